"""The existing-bucket path (CreateDatasetBucket=false): the stack creates no bucket and no bucket policy, every
S3 permission and the S3 rule name the given bucket, and infra/README.md lists every step the stack cannot take.
"""

import re

import cfn

BUCKET = "team-ml-data"
ROUTES_BUCKET = "cfg-bkt"  # cfn.REQUIRED_PARAMS["RoutesFileUri"]


def existing(template) -> cfn.Resolver:
    return cfn.Resolver(template, {"CreateDatasetBucket": "false", "DatasetBucketName": BUCKET})


def _s3_buckets(resources) -> set:
    """The bucket name of every S3 ARN among `resources`."""
    out = set()
    for r in cfn.as_list(resources):
        m = re.fullmatch(r"arn:aws:s3:::([^/]+)(/.*)?", r)
        if m:
            out.add(m.group(1))
    return out


def test_no_bucket_and_no_bucket_policy_are_created(template):
    r = existing(template)
    assert r.resources("AWS::S3::Bucket") == {}
    assert r.resources("AWS::S3::BucketPolicy") == {}


def test_every_resource_resolves_without_the_created_bucket(template):
    """A Ref or GetAtt to DatasetBucket in a resource that still exists would fail the deploy."""
    r = existing(template)
    for lid in r.resources():
        r.props(lid)


def test_every_iam_statement_names_the_given_bucket(template):
    r = existing(template)
    seen = set()
    for role in r.resources("AWS::IAM::Role"):
        for st in cfn.role_statements(r, role):
            buckets = _s3_buckets(st["Resource"])
            # The routes file may live elsewhere; JumpStart's script bucket is AWS's.
            others = {b for b in buckets if b not in (BUCKET, ROUTES_BUCKET) and not b.startswith("jumpstart-cache-")}
            assert not others, (role, st["Sid"], others)
            seen |= buckets
    assert BUCKET in seen
    assert "data-bkt" not in seen


def test_the_s3_rule_and_the_functions_name_the_given_bucket(template):
    r = existing(template)
    pattern = r.props("DatasetObjectCreatedRule")["EventPattern"]
    assert pattern["detail"]["bucket"]["name"] == [BUCKET]
    env = r.resolve(template["Globals"]["Function"]["Environment"])["Variables"]
    assert env["HUBTUNE_BUCKET"] == BUCKET


def _readme_section() -> str:
    text = (cfn.INFRA / "README.md").read_text()
    start = text.index("### An existing bucket")
    end = text.index("\n## ", start)
    return text[start:end]


def test_the_readme_lists_every_step_the_stack_cannot_take(template):
    section = _readme_section()
    # EventBridge delivery from the bucket, by hubtune or by hand.
    assert "hubtune enable-eventbridge" in section
    assert "put-bucket-notification-configuration" in section and "EventBridgeConfiguration" in section
    # Every statement of the policy the stack would have created is to be added by hand.
    policy = template["Resources"]["DatasetBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    sids = {st["Sid"] for st in cfn.all_branches(policy)}
    assert sids, "the created bucket's policy has statements"
    for sid in sids:
        assert sid in section, f"infra/README.md's existing-bucket steps do not name {sid}"
    assert "hubtune doctor" in section


def test_the_stack_outputs_the_principals_the_hand_made_policy_exempts(template):
    r = existing(template)
    arns = r.resolve(template["Outputs"]["FunctionRoleArns"]["Value"]).split(",")
    assert arns == [r.resolve({"Fn::GetAtt": [lid, "Arn"]})
                    for lid in ("LaunchFinetuneRole", "TrainingStateRole", "PublishArtifactRole")]
    assert r.resolve(template["Outputs"]["TrainingRoleArn"]["Value"]).startswith("arn:aws:iam::")

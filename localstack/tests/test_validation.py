"""The stand-in judges CreateTrainingJob and PutEvents as AWS does: against botocore's service models and the documented
limits they do not carry. Each refusal names the field the way AWS does; what AWS accepts (non-Latin tags, 100
instances, non-ASCII where the pattern allows it) is accepted."""

from __future__ import annotations

import copy
import json
import unicodedata

import pytest
from botocore.exceptions import ClientError
from helpers import FIXTURES, REPO, job_request, unique

from hubtune_localstack import validation
from hubtune_localstack.validation import MAX_PUT_EVENTS_BYTES, MAX_RUNTIME_SECONDS, check, full_match

SDK_FIXTURES = sorted((REPO / "fixtures" / "sdk").glob("create_training_job.*.json"))


def sdk_request() -> dict:
    return json.loads((FIXTURES / "create_training_job.accept_eula.json").read_text())


def refusals(req: dict) -> list[str]:
    return [str(v) for v in check("sagemaker", "CreateTrainingJob", req)]


def refused_at(req: dict, path: str) -> str:
    """The one refusal of `req`, which must be at `path`."""
    found = check("sagemaker", "CreateTrainingJob", req)
    assert [v.path for v in found] == [path], [str(v) for v in found]
    return str(found[0])


def with_(req: dict, **members) -> dict:
    out = copy.deepcopy(req)
    out.update(members)
    return out


# ---- CreateTrainingJob: what the SDK sends passes --------------------------------------------------------------
@pytest.mark.parametrize("path", SDK_FIXTURES, ids=lambda p: p.name)
def test_the_sdks_requests_pass(path):
    assert refusals(json.loads(path.read_text())) == []


# ---- CreateTrainingJob: each refusal names its field -------------------------------------------------------------
def test_a_bad_environment_key_is_refused_on_the_map():
    msg = refused_at(with_(sdk_request(), Environment={"GOOD": "1", "1BAD-KEY": "x"}), "environment")
    assert "Map keys must satisfy constraint: [" in msg and "[a-zA-Z_][a-zA-Z0-9_]*" in msg


def test_more_than_100_environment_entries_are_refused():
    env = {f"VAR_{i}": "x" for i in range(101)}
    msg = refused_at(with_(sdk_request(), Environment=env), "environment")
    assert msg.endswith("Member must have length less than or equal to 100")
    assert refusals(with_(sdk_request(), Environment=dict(list(env.items())[:100]))) == []


def test_a_role_arn_with_an_11_digit_account_is_refused():
    msg = refused_at(with_(sdk_request(), RoleArn="arn:aws:iam::11112222333:role/SageMakerExecutionRole"), "roleArn")
    assert msg.startswith("Value 'arn:aws:iam::11112222333:role/SageMakerExecutionRole' at 'roleArn' failed to "
                          "satisfy constraint: Member must satisfy regular expression pattern: arn:aws")


def test_17_subnets_are_refused():
    vpc = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": [f"subnet-{i:017x}" for i in range(17)]}
    msg = refused_at(with_(sdk_request(), VpcConfig=vpc), "vpcConfig.subnets")
    assert msg.endswith("Member must have length less than or equal to 16")
    vpc["Subnets"] = vpc["Subnets"][:16]
    assert refusals(with_(sdk_request(), VpcConfig=vpc)) == []


def test_a_subnet_with_a_bad_character_is_refused_on_the_list():
    vpc = {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1", "subnet_2"]}
    msg = refused_at(with_(sdk_request(), VpcConfig=vpc), "vpcConfig.subnets")
    assert "Member must satisfy constraint: [Member must have length less than or equal to 32" in msg


def test_a_tag_key_over_128_characters_is_refused():
    req = sdk_request()
    req["Tags"].append({"Key": "k" * 129, "Value": "v"})
    msg = refused_at(req, "tags.4.member.key")
    assert msg.endswith("Member must have length less than or equal to 128")


def test_a_job_name_over_63_characters_is_refused():
    # 64 characters break the pattern's {0,62} too: AWS names both constraints.
    found = check("sagemaker", "CreateTrainingJob", with_(sdk_request(), TrainingJobName="a" * 64))
    assert [v.path for v in found] == ["trainingJobName"] * 2
    assert "Member must have length less than or equal to 63" in [v.constraint for v in found]
    assert refusals(with_(sdk_request(), TrainingJobName="a" * 63)) == []


def test_a_job_name_off_the_pattern_is_refused_in_awss_words():
    found = refusals(with_(sdk_request(), TrainingJobName="bad_name"))
    assert found == ["Value 'bad_name' at 'trainingJobName' failed to satisfy constraint: Member must satisfy "
                     "regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"]
    assert refusals(with_(sdk_request(), TrainingJobName="-leading")) != []
    assert refusals(with_(sdk_request(), TrainingJobName="trailing-")) != []


def test_an_unknown_training_input_mode_is_refused():
    req = sdk_request()
    req["AlgorithmSpecification"]["TrainingInputMode"] = "Stream"
    msg = refused_at(req, "algorithmSpecification.trainingInputMode")
    assert msg.endswith("Member must satisfy enum value set: [Pipe, File, FastFile]")


def test_a_missing_required_member_is_value_null():
    req = sdk_request()
    del req["RoleArn"]
    assert refused_at(req, "roleArn") == "Value null at 'roleArn' failed to satisfy constraint: Member must not be null"


def test_an_instance_count_under_the_minimum_is_refused():
    req = sdk_request()
    req["ResourceConfig"]["InstanceCount"] = -1
    assert refused_at(req, "resourceConfig.instanceCount").endswith(
        "Member must have value greater than or equal to 0")


def test_every_violation_is_listed_in_one_message():
    req = with_(sdk_request(), TrainingJobName="x" * 64 + "_", RoleArn="arn:aws:iam::1:role/r")
    found = check("sagemaker", "CreateTrainingJob", req)
    assert sorted(v.path for v in found) == ["roleArn", "trainingJobName", "trainingJobName"]
    text = validation.message(found)
    assert text.startswith("3 validation errors detected: Value '") and text.count("; Value ") == 2


def test_a_runtime_over_28_days_is_refused():
    req = sdk_request()
    req["StoppingCondition"]["MaxRuntimeInSeconds"] = MAX_RUNTIME_SECONDS + 1
    assert refused_at(req, "stoppingCondition.maxRuntimeInSeconds").endswith(
        "Member must have value less than or equal to 2419200")
    req["StoppingCondition"]["MaxRuntimeInSeconds"] = MAX_RUNTIME_SECONDS
    assert refusals(req) == []


def test_a_tag_key_with_the_aws_prefix_is_refused_in_any_case():
    req = sdk_request()
    req["Tags"].append({"Key": "AWS:team", "Value": "ml"})
    assert "reserved prefix aws:" in refused_at(req, "tags.4.member.key")


# ---- CreateTrainingJob: nothing AWS accepts is refused -----------------------------------------------------------
def test_tags_in_non_latin_scripts_are_accepted():
    req = sdk_request()
    req["Tags"] += [{"Key": "モデル", "Value": "ラマ 三"}, {"Key": "команда", "Value": "ΑΒΓ δ"},
                    {"Key": "فريق", "Value": "١٢٣"}, {"Key": "équipe:été", "Value": "naïve@x.y"}]
    assert refusals(req) == []


def test_tag_values_count_utf16_units():
    # An emoji beyond U+FFFF is two UTF-16 units: 128 of them are 256 units (the limit), 129 are over it.
    req = sdk_request()
    req["Tags"].append({"Key": "k", "Value": "\U0001d49c" * 128})
    assert refusals(req) == []
    req["Tags"][-1]["Value"] += "\U0001d49c"
    assert refused_at(req, "tags.4.member.value").endswith("Member must have length less than or equal to 256")


def test_100_instances_are_accepted():
    req = sdk_request()
    req["ResourceConfig"]["InstanceCount"] = 100
    assert refusals(req) == []


def test_non_ascii_is_accepted_where_the_pattern_allows_it():
    req = with_(sdk_request(), Environment={"GREETING": "こんにちは\nwörld ☕", "NOTE": "café"})
    req["HyperParameters"]["prompt"] = "Résumé en français: « ça va » – 日本語"
    req["OutputDataConfig"]["S3OutputPath"] = "s3://bucket/モデル/出力/"
    assert refusals(req) == []


# ---- PutEvents -----------------------------------------------------------------------------------------------------
def entry(**members) -> dict:
    return {"Source": "hubtune", "DetailType": "Training Started", "Detail": json.dumps({"job": "j"}),
            "EventBusName": "hubtune", **members}


def test_a_bus_name_with_a_space_is_refused():
    found = check("events", "PutEvents", {"Entries": [entry(), entry(EventBusName="hub tune")]})
    assert [v.path for v in found] == ["entries.2.member.eventBusName"]
    assert str(found[0]).startswith("Value 'hub tune' at 'entries.2.member.eventBusName' failed to satisfy "
                                    "constraint: Member must satisfy regular expression pattern:")


def test_more_than_10_entries_are_refused_and_an_arn_bus_passes():
    bus = "arn:aws:events:us-east-1:123456789012:event-bus/hubtune"
    assert check("events", "PutEvents", {"Entries": [entry(EventBusName=bus)] * 10}) == []
    found = check("events", "PutEvents", {"Entries": [entry()] * 11})
    assert [(v.path, v.constraint) for v in found] == [("entries", "Member must have length less than or equal to 10")]


def sized_entry(size: int, **members) -> dict:
    """An entry whose size, as EventBridge counts it, is `size` bytes."""
    e = entry(Resources=["arn:aws:s3:::b"], **members)
    e["Detail"] = ""
    e["Detail"] = json.dumps({"x": "é" * ((size - validation.put_events_size({"Entries": [e]}) - 10) // 2)},
                             ensure_ascii=False)
    e["Detail"] += " " * (size - validation.put_events_size({"Entries": [e]}))
    assert validation.put_events_size({"Entries": [e]}) == size
    return e


def test_entry_size_is_counted_as_eventbridge_counts_it():
    e = entry(Resources=["arn:aws:s3:::bücket", "r"], Time=1700000000)
    expected = len("hubtune") + len("Training Started") + len(e["Detail"]) + len("arn:aws:s3:::bücket".encode()) + 1
    assert validation.put_events_size({"Entries": [e]}) == expected + 14  # Time is 14 bytes, whatever its value


def test_an_entry_over_256_kib_is_refused_by_the_whole_request(stack, events):
    fits = sized_entry(MAX_PUT_EVENTS_BYTES)
    assert events.put_events(Entries=[fits])["FailedEntryCount"] == 0
    with pytest.raises(ClientError) as err:
        events.put_events(Entries=[sized_entry(MAX_PUT_EVENTS_BYTES + 1)])
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err.value.response["Error"]["Message"] == "Total size of the entries in the request is over the limit."


def test_a_bus_name_with_a_space_is_refused_by_the_stack(stack, events):
    with pytest.raises(ClientError) as err:
        events.put_events(Entries=[entry(EventBusName="hub tune")])
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "'entries.1.member.eventBusName'" in err.value.response["Error"]["Message"]


# ---- through the served stack --------------------------------------------------------------------------------------
@pytest.fixture
def sm_unchecked(stack):
    """A SageMaker client that sends what it is given: boto3's own checks would stop some refusals first."""
    return stack.client("sagemaker", parameter_validation=False)


def test_the_stack_refuses_a_bad_job_name_and_role_in_one_validation_exception(sm_unchecked):
    req = job_request("bad_name_" + unique("x").replace("-", "_"))
    req["RoleArn"] = "arn:aws:iam::11112222333:role/SageMakerExecutionRole"
    with pytest.raises(ClientError) as err:
        sm_unchecked.create_training_job(**req)
    error = err.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Message"].startswith("2 validation errors detected: Value '")
    assert f"Value '{req['TrainingJobName']}' at 'trainingJobName' failed to satisfy constraint: Member must " \
           "satisfy regular expression pattern: " in error["Message"]
    assert f"Value '{req['RoleArn']}' at 'roleArn' failed to satisfy constraint" in error["Message"]
    names = [j["TrainingJobName"] for j in sm_unchecked.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]]
    assert req["TrainingJobName"] not in names  # refused before the stand-in saw it


def test_the_stack_refuses_an_unknown_input_mode(sm_unchecked):
    req = job_request(unique())
    req["AlgorithmSpecification"]["TrainingInputMode"] = "Stream"
    with pytest.raises(ClientError) as err:
        sm_unchecked.create_training_job(**req)
    assert "at 'algorithmSpecification.trainingInputMode'" in err.value.response["Error"]["Message"]


def test_the_stack_accepts_non_latin_tags_and_100_instances(sm_unchecked):
    name = unique()
    req = job_request(name, tags={"モデル": "ラマ", "команда": "ΑΒΓ δ"})
    req["ResourceConfig"]["InstanceCount"] = 100
    arn = sm_unchecked.create_training_job(**req)["TrainingJobArn"]
    tags = {t["Key"]: t["Value"] for t in sm_unchecked.list_tags(ResourceArn=arn)["Tags"]}
    assert tags["モデル"] == "ラマ" and tags["команда"] == "ΑΒΓ δ"


# ---- Java patterns read as Java reads them -------------------------------------------------------------------------
def test_patterns_match_whole_values_with_javas_dot_and_ascii_classes():
    assert full_match(".*", "s3://b/k")
    for terminator in ["\n", "\r", "\x85", "\u2028", "\u2029"]:
        assert not full_match(".*", f"s3://b/{terminator}k"), repr(terminator)
    assert not full_match("[a-z]+", "abc1"), "a whole match, not a search"
    assert not full_match("\\d{12}", "١٢٣٤٥٦٧٨٩٠١٢"), "\\d is ASCII in Java"
    assert not full_match("\\w+", "été"), "\\w is ASCII in Java"
    assert full_match("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*", "équipe Ωmega 42")
    assert not full_match("arn:[\\p{Alnum}\\-]+", "arn:é"), "\\p{Alnum} is ASCII in Java"
    assert full_match("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", "a\U0001F600"), \
        "a surrogate pair in a class is one code point"
    assert not full_match("[\\t\\n\\r -\\uD7FF\\uE000-\\uFFFD]*", "a\U0001F600")
    assert full_match("([\\p{L}]*)${1,128}", "モデル") and not full_match("([\\p{L}]*)${1,128}", "a1")


def test_a_pattern_python_cannot_read_refuses_nothing():
    for unreadable in ["[a-z&&[^b]]+", "\\p{InGreek}+", "\\R", "\\Gx"]:
        assert validation.compiled(unreadable) is None, unreadable
        assert full_match(unreadable, "anything at all")


def test_every_pattern_of_both_models_compiles():
    for service in ("sagemaker", "events"):
        model = validation.service_model(service)
        patterns = {model.shape_for(name).metadata.get("pattern") for name in model.shape_names}
        unreadable = sorted(p for p in patterns - {None} if validation.compiled(p) is None)
        assert unreadable == [], (service, unreadable)


def test_the_category_shortcut_matches_unicodedata():
    for lo, hi, cat in validation._KNOWN_RUNS:
        for cp in range(lo, hi + 1, 97):
            assert unicodedata.category(chr(cp)) == cat, hex(cp)
        assert unicodedata.category(chr(hi)) == cat, hex(hi)


def test_the_models_are_the_pinned_botocores():
    import botocore

    pinned = [line for line in (REPO / "localstack" / "requirements.txt").read_text().splitlines()
              if line.startswith("botocore==")]
    assert pinned == [f"botocore=={botocore.__version__}"]
    model_rs = (REPO / "shared/src/domain/validate/model.rs").read_text()
    assert f'BOTOCORE_VERSION: &str = "{botocore.__version__}"' in model_rs, "the Rust table is from another botocore"

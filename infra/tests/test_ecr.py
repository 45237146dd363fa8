"""The training images' ECR account per region (Mappings.DlcRegistry), the table the SageMaker SDK uses.

The Deep Learning Container images (Hugging Face and JumpStart training images) are in 763104351884 in most
regions, but each opt-in region has an account of its own: a policy naming only 763104351884 makes every job in
those regions fail at image pull.
"""

import json
from pathlib import Path

import pytest

import cfn

DLC = "763104351884"
OPT_IN = {"af-south-1": "626614931356", "ap-east-1": "871362719292", "me-south-1": "217643126080"}
SDK_FILES = ("huggingface.json", "huggingface-training-compiler.json")


def training_role_in(template, region: str) -> cfn.Policy:
    r = cfn.Resolver(template)
    r.pseudo["AWS::Region"] = region
    return cfn.Policy(cfn.role_statements(r, "TrainingRole"))


def pull_resources(template, region: str) -> list:
    r = cfn.Resolver(template)
    r.pseudo["AWS::Region"] = region
    st = next(s for s in cfn.role_statements(r, "TrainingRole") if s["Sid"] == "PullTrainingImages")
    return cfn.as_list(st["Resource"])


@pytest.mark.parametrize("region,account", [("us-east-1", DLC), ("eu-west-1", DLC), *OPT_IN.items()])
def test_the_training_role_pulls_from_the_regions_own_dlc_account(template, region, account):
    assert pull_resources(template, region) == [f"arn:aws:ecr:{region}:{account}:repository/*"]
    p = training_role_in(template, region)
    image = f"arn:aws:ecr:{region}:{account}:repository/huggingface-pytorch-training"
    assert p.allows("ecr:BatchGetImage", image)


@pytest.mark.parametrize("region", sorted(OPT_IN))
def test_an_opt_in_region_does_not_pull_from_the_default_account(template, region):
    p = training_role_in(template, region)
    assert not p.allows("ecr:BatchGetImage", f"arn:aws:ecr:{region}:{DLC}:repository/huggingface-pytorch-training")


def test_no_dlc_account_is_written_outside_the_table(template_text):
    mapping_start = template_text.index("\n  DlcRegistry:\n")
    mapping_end = template_text.index("\nConditions:\n")
    outside = template_text[:mapping_start] + template_text[mapping_end:]
    code_lines = [line for line in outside.splitlines() if not line.strip().startswith("#")]
    assert not any(DLC in line for line in code_lines)


def _sdk_config_dir() -> Path:
    """The SDK's image_uri_config files, copied from sagemaker 2.245.0 (the version the conformance test pins) into
    the repository's fixtures, so this test runs wherever the repository is, with no SDK installed."""
    return Path(__file__).resolve().parents[2] / "fixtures/sdk/image_uri_config"


def _registries(node, out: dict) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("registries"), dict):
            for region, account in node["registries"].items():
                out.setdefault(region, set()).add(account)
        for v in node.values():
            _registries(v, out)
    elif isinstance(node, list):
        for v in node:
            _registries(v, out)


def test_the_table_is_the_sdks(template):
    config = _sdk_config_dir()
    sdk: dict = {}
    for name in SDK_FILES:
        _registries(json.loads((config / name).read_text()), sdk)
    assert all(len(accounts) == 1 for accounts in sdk.values()), "one account per region"
    table = {region: row["Account"] for region, row in template["Mappings"]["DlcRegistry"].items()}
    assert table == {region: accounts.pop() for region, accounts in sdk.items()}

"""A YAML loader for CloudFormation/SAM templates that understands the short-form intrinsic tags.

Every tag is turned into its long form (`!Ref X` -> {"Ref": "X"}, `!GetAtt A.B` -> {"Fn::GetAtt": ["A", "B"]},
`!Sub s` -> {"Fn::Sub": s}, ...), which is what intrinsics.Resolver evaluates. JSON templates load too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# Short tag -> long key. Ref and Condition are not "Fn::" functions.
_FN_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "Sub": "Fn::Sub",
    "GetAtt": "Fn::GetAtt",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "FindInMap": "Fn::FindInMap",
    "ImportValue": "Fn::ImportValue",
    "GetAZs": "Fn::GetAZs",
    "Base64": "Fn::Base64",
    "Cidr": "Fn::Cidr",
    "Transform": "Fn::Transform",
    "Length": "Fn::Length",
    "ToJsonString": "Fn::ToJsonString",
}


class TemplateLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation tags; timestamps stay strings (as CloudFormation reads them)."""


# CloudFormation does not turn 2010-09-09 into a date.
TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _node_value(loader: TemplateLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _make_constructor(short: str, long: str):
    def construct(loader: TemplateLoader, node: yaml.Node) -> Any:
        value = _node_value(loader, node)
        if short == "GetAtt" and isinstance(value, str):
            # !GetAtt Resource.Attribute (the attribute itself may contain dots: split at the first one).
            resource, _, attribute = value.partition(".")
            value = [resource, attribute]
        return {long: value}

    return construct


for _short, _long in _FN_TAGS.items():
    TemplateLoader.add_constructor(f"!{_short}", _make_constructor(_short, _long))


def loads(text: str) -> dict[str, Any]:
    data = yaml.load(text, Loader=TemplateLoader)  # noqa: S506 - TemplateLoader is a SafeLoader
    if not isinstance(data, dict):
        raise ValueError("a template must be a mapping at its top level")
    return data


def load(path: str | Path) -> dict[str, Any]:
    return loads(Path(path).read_text(encoding="utf-8"))

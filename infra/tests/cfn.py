"""Reading infra/template.yaml the way CloudFormation would, for the infrastructure tests.

- `load()` parses the template with short-form tags (!Ref, !Sub, !GetAtt ...) turned into their long forms.
- `Resolver` evaluates conditions and intrinsic functions for one set of parameter values, giving resources
  synthetic but realistic names and ARNs (a queue's ARN ends with its logical id, as the local stack names it).
- `Policy` answers "would this role be allowed to do X on Y with context Z" (identity policies) and "does this
  resource policy deny X on Y to this principal" for the subset of IAM the template uses: Allow and Deny; the
  String/Arn operators and their negations, Bool, Null, NumericLessThanEquals, and the ForAllValues/ForAnyValue
  set operators, with IAM's rules for a key absent from the request. It is not a full IAM engine: it exists so the
  tests can state least privilege as cases, next to the statement-by-statement comparison.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

INFRA = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = INFRA / "template.yaml"

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
STACK = "hubtune-test"
# The stack id as CloudFormation makes it: the derived job prefix takes the UUID's first group.
STACK_ID = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{STACK}/1c2fa620-982a-11e3-aff7-50e2416294e0"

# Values for the parameters that have no default: what a user types at `sam deploy --guided`.
REQUIRED_PARAMS = {
    "DatasetBucketName": "data-bkt",
    "HubName": "my-hub",
    "RoutesFileUri": "s3://cfg-bkt/conf/hubtune.toml",
    # An explicit prefix keeps the job ARNs of the IAM tests readable; test_wiring's derived-prefix test passes "".
    "JobPrefix": "hubtune",
    # Likewise the deployment name (its default is the stack's name; test_wiring checks the derived one).
    "DeploymentName": "hubtune",
}


# ---------------------------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------------------------
class CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form tags."""


def _construct(loader: yaml.Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _tag_constructor(loader: yaml.Loader, tag_suffix: str, node: yaml.Node) -> Any:
    value = _construct(loader, node)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _tag_constructor)


def load(path: Path = TEMPLATE_PATH) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


def text(path: Path = TEMPLATE_PATH) -> str:
    return path.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------
# Resolving
# ---------------------------------------------------------------------------------------------------------------
class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class Resolver:
    def __init__(self, template: dict, overrides: dict[str, str] | None = None):
        self.template = template
        self.params: dict[str, str] = {}
        for name, spec in template.get("Parameters", {}).items():
            if "Default" in spec:
                self.params[name] = str(spec["Default"])
        self.params.update(REQUIRED_PARAMS)
        self.params.update(overrides or {})
        # A CommaDelimitedList parameter is a list when referenced ("" is [""], as CloudFormation has it).
        for name, spec in template.get("Parameters", {}).items():
            if spec.get("Type") == "CommaDelimitedList" and isinstance(self.params.get(name), str):
                self.params[name] = self.params[name].split(",")
        missing = [n for n in template.get("Parameters", {}) if n not in self.params]
        if missing:
            raise ValueError(f"no value for parameters {missing}")
        self.pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": PARTITION,
            "AWS::StackName": STACK,
            "AWS::StackId": STACK_ID,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        self._conditions: dict[str, bool] = {}

    # -- conditions ---------------------------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self._conditions[name]

    def exists(self, logical_id: str) -> bool:
        resource = self.template["Resources"][logical_id]
        return "Condition" not in resource or self.condition(resource["Condition"])

    def resources(self, type_: str | None = None) -> dict[str, dict]:
        return {
            lid: res
            for lid, res in self.template["Resources"].items()
            if (type_ is None or res["Type"] == type_) and self.exists(lid)
        }

    def props(self, logical_id: str) -> dict:
        return self.resolve(self.template["Resources"][logical_id].get("Properties", {}))

    # -- synthetic identities of resources ----------------------------------------------------------------------
    def _ref_resource(self, lid: str) -> str:
        res = self.template["Resources"][lid]
        kind = res["Type"]
        props = res.get("Properties", {})
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{lid}"
        if kind == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{STACK}-{lid}"
        if kind == "AWS::S3::Bucket":
            return self.resolve(props["BucketName"])
        if kind == "AWS::Events::EventBus":
            return self.resolve(props["Name"])
        if kind == "AWS::Logs::LogGroup":
            return self.resolve(props["LogGroupName"])
        if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function", "AWS::IAM::Role"):
            return f"{STACK}-{lid}-ABC123"
        return f"{STACK}-{lid}"

    def _get_att(self, lid: str, attribute: str) -> str:
        res = self.template["Resources"][lid]
        kind = res["Type"]
        if kind == "AWS::SQS::Queue":
            return {"Arn": f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{lid}", "QueueName": lid,
                    "QueueUrl": self._ref_resource(lid)}[attribute]
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{self._ref_resource(lid)}"
        if kind == "AWS::Events::EventBus" and attribute == "Arn":
            return f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:event-bus/{self._ref_resource(lid)}"
        if kind == "AWS::Events::Rule" and attribute == "Arn":
            bus = self.resolve(res["Properties"].get("EventBusName", "default"))
            path = lid if bus == "default" else f"{bus}/{lid}"
            return f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/{path}"
        if kind == "AWS::Logs::LogGroup" and attribute == "Arn":
            return f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{self._ref_resource(lid)}:*"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:{PARTITION}:s3:::{self._ref_resource(lid)}"
        if kind == "AWS::Serverless::Function" and attribute == "Arn":
            return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{self._ref_resource(lid)}"
        if kind == "AWS::KMS::Key" and attribute == "Arn":
            return f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{self._ref_resource(lid)}"
        raise KeyError(f"no synthetic GetAtt for {lid}.{attribute} ({kind})")

    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.template["Resources"]:
            if not self.exists(name):
                raise ValueError(f"Ref to {name}, which this parameter set does not create")
            return self._ref_resource(name)
        raise KeyError(f"unknown Ref {name}")

    def _sub(self, template: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return str(variables[inner])
            if "." in inner and inner.split(".", 1)[0] in self.template["Resources"]:
                lid, att = inner.split(".", 1)
                return str(self._get_att(lid, att))
            return str(self._ref(inner))

        return re.sub(r"\$\{([^}]+)\}", replace, template)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key == "Fn::GetAtt":
                return self._get_att(arg[0], arg[1])
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self._sub(arg, {})
                return self._sub(arg[0], {k: self.resolve(v) for k, v in arg[1].items()})
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if key == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if key == "Fn::FindInMap":
                name, top, second = (self.resolve(x) for x in arg)
                return self.template["Mappings"][name][top][second]
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, source = arg
                return str(self.resolve(source)).split(sep)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(x) for x in self.resolve(items))
        out = {}
        for k, v in value.items():
            r = self.resolve(v)
            if r is not NO_VALUE:
                out[k] = r
        return out


# ---------------------------------------------------------------------------------------------------------------
# Walking policies
# ---------------------------------------------------------------------------------------------------------------
def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def all_branches(value: Any) -> list:
    """Every statement a (possibly conditional) statement list can contain, both sides of each Fn::If."""
    out = []
    for item in as_list(value):
        if isinstance(item, dict) and set(item) == {"Fn::If"}:
            _, when_true, when_false = item["Fn::If"]
            out.extend(all_branches(when_true))
            out.extend(all_branches(when_false))
        elif isinstance(item, dict) and set(item) == {"Ref"} and item["Ref"] == "AWS::NoValue":
            continue
        else:
            out.append(item)
    return out


def role_statements(resolver: Resolver, logical_id: str) -> list[dict]:
    """The resolved identity-policy statements of one role (inline policies)."""
    props = resolver.props(logical_id)
    statements = []
    for policy in props.get("Policies", []):
        statements.extend(as_list(policy["PolicyDocument"]["Statement"]))
    return statements


def _glob(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _matches(operator: str, actual: str, wanted: list[str]) -> bool:
    """One context value against the policy's values, for a positive operator."""
    if operator in ("StringEquals", "ArnEquals"):
        return actual in wanted
    if operator in ("StringLike", "ArnLike"):
        return any(_glob(w, actual) for w in wanted)
    if operator == "Bool":
        return actual.lower() in [w.lower() for w in wanted]
    if operator == "NumericLessThanEquals":
        return any(float(actual) <= float(w) for w in wanted)
    raise NotImplementedError(operator)


def _positive(operator: str) -> str:
    return operator.replace("Not", "", 1) if operator in _NEGATED else operator


def _key_holds(operator: str, key: str, expected: Any, context: dict[str, Any]) -> bool:
    wanted = [str(x) for x in as_list(expected)]
    present = key in context
    values = [str(v) for v in as_list(context.get(key))]
    if operator == "Null":
        # "true": the key must be absent; "false": present.
        return (not present) == (wanted[0].lower() == "true")
    if operator.startswith("ForAllValues:"):
        # Every value of the request in the policy's set; true when the key is absent (IAM's rule).
        inner = operator.split(":", 1)[1]
        return all(_matches(inner, v, wanted) for v in values)
    if operator.startswith("ForAnyValue:"):
        inner = operator.split(":", 1)[1]
        return present and any(_matches(inner, v, wanted) for v in values)
    if operator in _NEGATED:
        # A negated operator holds when the key is absent, and when no value matches.
        return not present or not any(_matches(_positive(operator), v, wanted) for v in values)
    return present and all(_matches(operator, v, wanted) for v in values)


def _condition_holds(condition: dict, context: dict[str, Any]) -> bool:
    return all(
        _key_holds(operator, key, expected, context)
        for operator, entries in (condition or {}).items()
        for key, expected in entries.items()
    )


class Policy:
    def __init__(self, statements: list[dict]):
        self.statements = statements

    def _matching(self, action: str, resource: str, context: dict[str, Any] | None):
        ctx = context or {}
        for st in self.statements:
            if "NotAction" in st or "NotResource" in st or "NotPrincipal" in st:
                raise AssertionError("NotAction/NotResource/NotPrincipal are not used in this template")
            if not any(_glob(a, action, case_sensitive=False) for a in as_list(st["Action"])):
                continue
            if not any(_glob(r, resource) for r in as_list(st["Resource"])):
                continue
            if not _condition_holds(st.get("Condition"), ctx):
                continue
            yield st

    def allows(self, action: str, resource: str, context: dict[str, Any] | None = None) -> bool:
        """An identity policy: some Allow matches and no Deny does."""
        effects = [st["Effect"] for st in self._matching(action, resource, context)]
        return "Allow" in effects and "Deny" not in effects

    def denies(self, action: str, resource: str, context: dict[str, Any] | None = None) -> bool:
        """A resource policy: an explicit Deny to every principal ("*") matches. The principal's identity enters
        through the context (aws:PrincipalArn, aws:SourceArn), as it does in IAM."""
        for st in self._matching(action, resource, context):
            if st["Effect"] == "Deny":
                assert st.get("Principal") in ("*", {"AWS": "*"}), f"a Deny names every principal: {st}"
                return True
        return False

"""Evaluates CloudFormation intrinsic functions and conditions against local values.

Resolved: Ref, Fn::Sub (both forms), Fn::GetAtt, Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition,
Fn::Join, Fn::Select, Fn::Split, Fn::FindInMap (with DefaultValue), Fn::GetAZs, Fn::Base64, Fn::Length,
Fn::ToJsonString, and the pseudo parameters. Fn::ImportValue has no local meaning: it resolves to the
placeholder "imported:<name>". Unknown functions are left as they are.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from . import ACCOUNT_ID, PARTITION, REGION


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

INTRINSICS = {
    "Ref", "Condition", "Fn::Sub", "Fn::GetAtt", "Fn::If", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or",
    "Fn::Join", "Fn::Select", "Fn::Split", "Fn::FindInMap", "Fn::ImportValue", "Fn::GetAZs", "Fn::Base64",
    "Fn::Length", "Fn::ToJsonString",
}

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


class TemplateError(ValueError):
    pass


def pseudo_parameters(stack_name: str = "hubtune-local") -> dict[str, Any]:
    return {
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": REGION,
        "AWS::Partition": PARTITION,
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/local",
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


def _as_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, dict)):
        raise TemplateError(f"expected a string, got {value!r}")
    return str(value)


class Resolver:
    """Resolves template values.

    `ref(logical_id)` and `get_att(logical_id, attribute)` give resources' values; parameters and pseudo
    parameters are looked up first for Ref.
    """

    def __init__(
        self,
        template: dict[str, Any],
        parameters: dict[str, Any],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
    ) -> None:
        self.template = template
        self.parameters = dict(parameters)
        self._ref = ref
        self._get_att = get_att
        self.pseudo = pseudo_parameters()
        self._conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    # ---- conditions -------------------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        definitions = self.template.get("Conditions") or {}
        if name not in definitions:
            raise TemplateError(f"unknown condition {name!r}")
        if name in self._evaluating:
            raise TemplateError(f"condition {name!r} refers to itself")
        self._evaluating.add(name)
        try:
            value = self._truth(self.resolve(definitions[name]))
        finally:
            self._evaluating.discard(name)
        self._conditions[name] = value
        return value

    @staticmethod
    def _truth(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TemplateError(f"a condition must be a boolean, got {value!r}")

    # ---- values -----------------------------------------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        if isinstance(node, dict):
            if len(node) == 1:
                (key, arg), = node.items()
                if key in INTRINSICS:
                    return self._call(key, arg)
            out = {}
            for key, value in node.items():
                resolved = self.resolve(value)
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        return node

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self._ref(name)

    def _call(self, fn: str, arg: Any) -> Any:
        if fn == "Ref":
            return self.ref(_as_str(self.resolve(arg)))
        if fn == "Condition":
            return self.condition(_as_str(arg))
        if fn == "Fn::If":
            if not isinstance(arg, list) or len(arg) != 3:
                raise TemplateError(f"Fn::If takes [condition, then, else], got {arg!r}")
            return self.resolve(arg[1] if self.condition(_as_str(arg[0])) else arg[2])
        if fn == "Fn::Equals":
            a, b = self._pair(fn, arg)
            return self._cmp(self.resolve(a)) == self._cmp(self.resolve(b))
        if fn == "Fn::Not":
            items = arg if isinstance(arg, list) else [arg]
            return not self._truth(self.resolve(items[0]))
        if fn == "Fn::And":
            return all(self._truth(self.resolve(c)) for c in arg)
        if fn == "Fn::Or":
            return any(self._truth(self.resolve(c)) for c in arg)
        if fn == "Fn::GetAtt":
            if isinstance(arg, str):
                resource, _, attribute = arg.partition(".")
            else:
                resource, attribute = (_as_str(self.resolve(x)) for x in arg)
            return self._get_att(resource, attribute)
        if fn == "Fn::Sub":
            return self._sub(arg)
        if fn == "Fn::Join":
            delimiter, items = self._pair(fn, arg)
            items = self.resolve(items)
            return _as_str(self.resolve(delimiter)).join(_as_str(i) for i in items)
        if fn == "Fn::Select":
            index, items = self._pair(fn, arg)
            items = self.resolve(items)
            return items[int(self.resolve(index))]
        if fn == "Fn::Split":
            delimiter, text = self._pair(fn, arg)
            return _as_str(self.resolve(text)).split(_as_str(self.resolve(delimiter)))
        if fn == "Fn::FindInMap":
            return self._find_in_map(arg)
        if fn == "Fn::ImportValue":
            return f"imported:{_as_str(self.resolve(arg))}"
        if fn == "Fn::GetAZs":
            region = self.resolve(arg) or REGION
            return [f"{region}{zone}" for zone in "abcdef"]
        if fn == "Fn::Base64":
            return base64.b64encode(_as_str(self.resolve(arg)).encode()).decode()
        if fn == "Fn::Length":
            return len(self.resolve(arg))
        if fn == "Fn::ToJsonString":
            return json.dumps(self.resolve(arg), separators=(",", ":"))
        raise TemplateError(f"unsupported intrinsic {fn}")  # pragma: no cover - INTRINSICS guards this

    @staticmethod
    def _pair(fn: str, arg: Any) -> tuple[Any, Any]:
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError(f"{fn} takes two arguments, got {arg!r}")
        return arg[0], arg[1]

    @staticmethod
    def _cmp(value: Any) -> Any:
        return _as_str(value) if not isinstance(value, (list, dict)) else value

    def _find_in_map(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) not in (3, 4):
            raise TemplateError(f"Fn::FindInMap takes [map, key, key(, options)], got {arg!r}")
        names = [_as_str(self.resolve(x)) for x in arg[:3]]
        mappings = self.template.get("Mappings") or {}
        try:
            return self.resolve(mappings[names[0]][names[1]][names[2]])
        except (KeyError, TypeError):
            if len(arg) == 4 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.resolve(arg[3]["DefaultValue"])
            raise TemplateError(f"Fn::FindInMap: no {'/'.join(names)} in Mappings") from None

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            if not arg or len(arg) > 2:
                raise TemplateError(f"Fn::Sub takes a string or [string, variables], got {arg!r}")
            text = arg[0]
            variables = self.resolve(arg[1]) if len(arg) == 2 else {}
        else:
            text, variables = arg, {}
        text = _as_str(text)

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            name = inner.strip()
            if name in variables:
                return _as_str(variables[name])
            if name in self.pseudo or name in self.parameters:
                value = self.ref(name)
                return ",".join(map(_as_str, value)) if isinstance(value, list) else _as_str(value)
            if "." in name:
                resource, _, attribute = name.partition(".")
                return _as_str(self._get_att(resource, attribute))
            return _as_str(self.ref(name))

        return _SUB_VAR.sub(replace, text)

"""The stand-in judges a request's input as AWS does before anything else runs: against the service model (botocore's
service-2.json, the botocore pinned in localstack/requirements.txt, the same models scripts/gen-aws-limits turns into
the Rust validator's table) and the documented limits the models do not carry. An end-to-end test then fails wherever
AWS would refuse, and nothing AWS accepts is refused: a pattern that cannot be read as Java reads it is not held
against any value.

What AWS answers is an HTTP 400 `ValidationException` whose message lists every violation in Coral's words:
"2 validation errors detected: Value 'x' at 'trainingJobName' failed to satisfy constraint: Member must ...; ...".
Members are named in lowerCamelCase, joined with dots; a list's structures are `<list>.<n>.member` (from 1); a list
of scalars or a map's keys or values is one violation on the whole list or map, naming all its member's constraints.
Lengths count UTF-16 code units, patterns match the whole value as Java regular expressions.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import Any

from .protocol import ApiError, Request

log = logging.getLogger("hubtune_localstack.validation")

# EventBridge's limit on the entries of one PutEvents call, as it counts them (the Rust side's MAX_ENTRY_BYTES).
MAX_PUT_EVENTS_BYTES = 256 * 1024
# An entry's Time counts 14 bytes, whatever its value.
TIME_BYTES = 14
# SageMaker's longest training job (the Rust side's MAX_RUNTIME_SECONDS): not in the model, refused all the same.
MAX_RUNTIME_SECONDS = 28 * 24 * 3600

# The operations judged here, by (service, operation) as protocol.Request names them.
CHECKED = {("sagemaker", "CreateTrainingJob"), ("sagemaker", "CreateModelPackage"),
           ("sagemaker", "CreateModelPackageGroup"), ("events", "PutEvents")}


@dataclass(frozen=True)
class Violation:
    path: str  # as AWS names it: trainingJobName, vpcConfig.subnets, tags.1.member.key
    value: str | None  # as AWS shows it; None for a missing member ("Value null")
    constraint: str  # "Member must ..."
    sensitive: bool = False  # AWS does not repeat a sensitive member's value

    def __str__(self) -> str:
        if self.sensitive:
            shown = "Value"
        elif self.value is None:
            shown = "Value null"
        else:
            shown = f"Value '{self.value}'"
        return f"{shown} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def message(violations: list[Violation]) -> str:
    n = len(violations)
    return f"{n} validation error{'' if n == 1 else 's'} detected: " + "; ".join(map(str, violations))


def refuse_invalid(req: Request) -> None:
    """Raises the ValidationException AWS would answer `req` with; returns when AWS would take it."""
    if req.protocol != "json" or (req.service, req.operation) not in CHECKED:
        return
    params = req.json()
    violations = check(req.service, req.operation, params)
    text = message(violations) if violations else None
    if text is None and req.operation == "PutEvents" and put_events_size(params) > MAX_PUT_EVENTS_BYTES:
        # EventBridge refuses the whole call, with this message, when its entries are over the limit.
        text = "Total size of the entries in the request is over the limit."
    if text is not None:
        # Said in the log too: a refusal hubtune did not expect is then found without a debugger.
        log.warning("refused %s as AWS would: %s", req.key, text[:2000])
        raise ApiError("ValidationException", text)


# ---- the service models ------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def service_model(service: str) -> Any:
    import botocore.loaders
    import botocore.model

    loader = botocore.loaders.Loader()
    return botocore.model.ServiceModel(loader.load_service_model(service, "service-2"), service_name=service)


def check(service: str, operation: str, params: Any) -> list[Violation]:
    """Every violation of `params` (the request's JSON) against the model's input of `operation`, and the documented
    limits the model does not carry."""
    shape = service_model(service).operation_model(operation).input_shape
    out: list[Violation] = []
    if shape is not None:
        _walk(shape, params, "", out)
    out.extend(_unmodelled(service, operation, params))
    return out


def _member_path(base: str, name: str) -> str:
    name = name[:1].lower() + name[1:]
    return f"{base}.{name}" if base else name


def _walk(shape: Any, value: Any, path: str, out: list[Violation]) -> None:
    if value is None:  # a JSON null is an absent member
        return
    kind = shape.type_name
    if kind == "structure":
        _structure(shape, value, path, out)
    elif kind == "list" and isinstance(value, list):
        _list(shape, value, path, out)
    elif kind == "map" and isinstance(value, dict):
        _map(shape, value, path, out)
    elif kind in ("string", "integer", "long"):
        sensitive = bool(shape.metadata.get("sensitive"))
        out.extend(Violation(path, java_str(value), c, sensitive) for c in scalar_failures(shape, value))
    # blobs, timestamps, booleans, floats and documents: nothing the model bounds that hubtune's checks need


def _structure(shape: Any, value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, dict) or shape.metadata.get("document"):
        return
    for name in shape.required_members:
        if value.get(name) is None:
            out.append(Violation(_member_path(path, name), None, "Member must not be null"))
    for name, member in shape.members.items():
        if name in value:
            _walk(member, value[name], _member_path(path, name), out)


def _list(shape: Any, value: list[Any], path: str, out: list[Violation]) -> None:
    sensitive = bool(shape.metadata.get("sensitive"))
    out.extend(Violation(path, java_str(value), c, sensitive) for c in size_failures(shape, len(value)))
    member = shape.member
    if _is_scalar(member):
        if any(scalar_failures(member, item) for item in value):
            out.append(Violation(path, java_str(value), "Member must satisfy constraint: "
                                 + _all_constraints(member), sensitive or _sensitive(member)))
        return
    for i, item in enumerate(value, start=1):
        _walk(member, item, f"{path}.{i}.member", out)


def _map(shape: Any, value: dict[str, Any], path: str, out: list[Violation]) -> None:
    sensitive = bool(shape.metadata.get("sensitive")) or _sensitive(shape.key) or _sensitive(shape.value)
    shown = java_str(value)
    out.extend(Violation(path, shown, c, sensitive) for c in size_failures(shape, len(value)))
    if any(scalar_failures(shape.key, k) for k in value):
        out.append(Violation(path, shown, "Map keys must satisfy constraint: " + _all_constraints(shape.key),
                             sensitive))
    if _is_scalar(shape.value):
        if any(scalar_failures(shape.value, v) for v in value.values()):
            out.append(Violation(path, shown, "Map value must satisfy constraint: "
                                 + _all_constraints(shape.value), sensitive))
        return
    for k, v in value.items():
        _walk(shape.value, v, f"{path}.{k}", out)


def _is_scalar(shape: Any) -> bool:
    return shape.type_name in ("string", "integer", "long")


def _sensitive(shape: Any) -> bool:
    return bool(shape.metadata.get("sensitive"))


# ---- scalar constraints --------------------------------------------------------------------------------------------
def utf16_len(s: str) -> int:
    """A string's length as AWS counts it: UTF-16 code units (a character beyond U+FFFF counts two)."""
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


def _constraints(shape: Any) -> list[tuple[str, Any]]:
    """The shape's constraints in the order Coral names them: (kind, bound)."""
    meta = shape.metadata
    out: list[tuple[str, Any]] = []
    if shape.type_name == "string" and shape.enum:
        out.append(("enum", list(shape.enum)))
    for kind in ("max", "min"):
        if meta.get(kind) is not None:
            out.append((kind, meta[kind]))
    if shape.type_name == "string" and meta.get("pattern"):
        out.append(("pattern", meta["pattern"]))
    return out


def _words(shape: Any, kind: str, bound: Any) -> str:
    if kind == "enum":
        return f"Member must satisfy enum value set: [{', '.join(bound)}]"
    if kind == "pattern":
        return f"Member must satisfy regular expression pattern: {bound}"
    what = "length" if shape.type_name in ("string", "list", "map") else "value"
    relation = "less than or equal to" if kind == "max" else "greater than or equal to"
    return f"Member must have {what} {relation} {bound}"


def _all_constraints(shape: Any) -> str:
    return "[" + ", ".join(_words(shape, k, b) for k, b in _constraints(shape)) + "]"


def _fails(shape: Any, kind: str, bound: Any, value: Any) -> bool:
    if shape.type_name == "string":
        if not isinstance(value, str):
            return False
        if kind == "enum":
            return value not in bound
        if kind == "pattern":
            return not full_match(bound, value)
        measured = utf16_len(value)
    else:
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        measured = value
    return measured > bound if kind == "max" else measured < bound


def scalar_failures(shape: Any, value: Any) -> list[str]:
    """The constraints (in AWS's words) a string or integer `value` breaks."""
    return [_words(shape, k, b) for k, b in _constraints(shape) if _fails(shape, k, b, value)]


def size_failures(shape: Any, size: int) -> list[str]:
    """The size constraints a list or map of `size` entries breaks."""
    meta = shape.metadata
    out = []
    if meta.get("max") is not None and size > meta["max"]:
        out.append(_words(shape, "max", meta["max"]))
    if meta.get("min") is not None and size < meta["min"]:
        out.append(_words(shape, "min", meta["min"]))
    return out


def java_str(value: Any) -> str:
    """How AWS (Java) shows a value in its message: lists as [a, b], maps and structures as {k=v}."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(java_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_str(v)}" for k, v in value.items()) + "}"
    return str(value)


# ---- the limits the models do not carry ----------------------------------------------------------------------------
def _unmodelled(service: str, operation: str, params: Any) -> list[Violation]:
    if (service, operation) != ("sagemaker", "CreateTrainingJob") or not isinstance(params, dict):
        return []
    out = []
    stopping = params.get("StoppingCondition")
    runtime = stopping.get("MaxRuntimeInSeconds") if isinstance(stopping, dict) else None
    if isinstance(runtime, int) and not isinstance(runtime, bool) and runtime > MAX_RUNTIME_SECONDS:
        out.append(Violation("stoppingCondition.maxRuntimeInSeconds", str(runtime),
                             f"Member must have value less than or equal to {MAX_RUNTIME_SECONDS}"))
    tags = params.get("Tags")
    for i, tag in enumerate(tags if isinstance(tags, list) else [], start=1):
        key = tag.get("Key") if isinstance(tag, dict) else None
        if isinstance(key, str) and key.lower().startswith("aws:"):
            # The aws: prefix is AWS's own, in any case (the Rust validator refuses it too).
            out.append(Violation(f"tags.{i}.member.key", key,
                                 "Member must not begin with the reserved prefix aws: (in any case)"))
    return out


def put_events_size(params: Any) -> int:
    """The size of a PutEvents call's entries as EventBridge counts it: Time 14 bytes; Source, DetailType, Detail and
    each of Resources their UTF-8 bytes (docs: 'Calculating PutEvents event entry size')."""
    entries = params.get("Entries") if isinstance(params, dict) else None
    total = 0
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        if entry.get("Time") is not None:
            total += TIME_BYTES
        for name in ("Source", "DetailType", "Detail"):
            if isinstance(entry.get(name), str):
                total += len(entry[name].encode("utf-8", "surrogatepass"))
        resources = entry.get("Resources")
        for resource in resources if isinstance(resources, list) else []:
            if isinstance(resource, str):
                total += len(resource.encode("utf-8", "surrogatepass"))
    return total


# ---- Java regular expressions, read by Python's re -----------------------------------------------------------------
class Untranslatable(ValueError):
    """A pattern construct Python cannot be made to read as Java does: the pattern is then not enforced."""


# In Java `.` matches no line terminator; \d \w \s \b are ASCII (re.ASCII gives Python the same).
_DOT = "[^\\n\\r\\x85\\u2028\\u2029]"
# Java's POSIX classes (\p{Alnum} ...) are ASCII.
_POSIX = {
    "Lower": "a-z", "Upper": "A-Z", "ASCII": "\\x00-\\x7f", "Alpha": "a-zA-Z", "Digit": "0-9", "Alnum": "0-9a-zA-Z",
    "Punct": "\\x21-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7e", "Graph": "\\x21-\\x7e", "Print": "\\x20-\\x7e",
    "Blank": " \\t", "Cntrl": "\\x00-\\x1f\\x7f", "XDigit": "0-9a-fA-F", "Space": " \\t\\n\\x0b\\f\\r",
}
_ESCAPES_KEPT = set("dDwWsSbBAtnrfa") | set("123456789")


# Planes 4 to 13 hold no assigned character and planes 15 and 16 only private use (U+xFFFE, U+xFFFF unassigned):
# their categories are known without asking each code point, which keeps the scan to a fifth
# (test_validation checks the shortcut against unicodedata).
_KNOWN_RUNS = ((0x40000, 0xDFFFF, "Cn"), (0xF0000, 0xFFFFD, "Co"), (0xFFFFE, 0xFFFFF, "Cn"),
               (0x100000, 0x10FFFD, "Co"), (0x10FFFE, 0x10FFFF, "Cn"))


def _add(ranges: dict[str, list[tuple[int, int]]], lo: int, hi: int, cat: str) -> None:
    for name in (cat, cat[0]):
        runs = ranges.setdefault(name, [])
        if runs and runs[-1][1] == lo - 1:
            runs[-1] = (runs[-1][0], hi)
        else:
            runs.append((lo, hi))


@functools.lru_cache(maxsize=1)
def _categories() -> dict[str, list[tuple[int, int]]]:
    """Every Unicode general category (and its one-letter group) as ranges of code points, in order."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    for lo, hi in ((0, 0x3FFFF), (0xE0000, 0xEFFFF)):
        for cp in range(lo, hi + 1):
            _add(ranges, cp, cp, unicodedata.category(chr(cp)))
        if lo == 0:
            _add(ranges, *_KNOWN_RUNS[0])
    for run in _KNOWN_RUNS[1:]:
        _add(ranges, *run)
    return ranges


def _complement(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, start = [], 0
    for lo, hi in runs:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= 0x10FFFF:
        out.append((start, 0x10FFFF))
    return out


def _class_text(runs: list[tuple[int, int]]) -> str:
    return "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in runs)


def _property(name: str, negated: bool, in_class: bool) -> str:
    """\\p{name} (or \\P{name}) as the inside of a class (in a class) or a whole class."""
    if name in _POSIX:
        inner = _POSIX[name]
        if negated:
            if in_class:
                raise Untranslatable(f"\\P{{{name}}} inside a class")
            return f"[^{inner}]"
    else:
        category = name[2:] if name.startswith("Is") else name
        runs = _categories().get(category)
        if runs is None:
            raise Untranslatable(f"\\p{{{name}}}")
        inner = _class_text(_complement(runs) if negated else runs)
    return inner if in_class else f"[{inner}]"


def _hex_escape(p: str, i: int) -> tuple[int, str]:
    """\\uXXXX at p[i] (after the backslash), a surrogate pair joined into one code point as Java reads it."""
    digits = p[i + 1:i + 5]
    if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise Untranslatable("\\u without four hex digits")
    cp, i = int(digits, 16), i + 5
    low = p[i + 2:i + 6] if p.startswith("\\u", i) else ""
    if 0xD800 <= cp <= 0xDBFF and len(low) == 4 and 0xDC00 <= int(low, 16) <= 0xDFFF:
        cp, i = 0x10000 + ((cp - 0xD800) << 10) + (int(low, 16) - 0xDC00), i + 6
    return i, f"\\U{cp:08x}"


def _escape(p: str, i: int, in_class: bool) -> tuple[int, str]:
    """The escape at p[i] (the character after a backslash): the index after it and its Python spelling."""
    if i >= len(p):
        raise Untranslatable("a pattern ending in a backslash")
    c = p[i]
    if c in "pP":
        if p.startswith("{", i + 1):
            end = p.find("}", i + 2)
            if end < 0:
                raise Untranslatable("\\p{ without }")
            return end + 1, _property(p[i + 2:end], c == "P", in_class)
        return i + 2, _property(p[i + 1:i + 2], c == "P", in_class)
    if c == "u":
        return _hex_escape(p, i)
    if c == "x" and p.startswith("{", i + 1):
        end = p.find("}", i + 2)
        if end < 0:
            raise Untranslatable("\\x{ without }")
        return end + 1, f"\\U{int(p[i + 2:end], 16):08x}"
    if c == "x":
        return i + 3, "\\x" + p[i + 1:i + 3]
    if c == "e":
        return i + 1, "\\x1b"
    if c == "z":
        return i + 1, "\\Z"
    if c == "Q":
        end = p.find("\\E", i + 1)
        end = len(p) if end < 0 else end
        return min(end + 2, len(p)), re.escape(p[i + 1:end])
    if c in _ESCAPES_KEPT or not c.isalnum():
        return i + 1, "\\" + c
    raise Untranslatable(f"\\{c}")


_QUANTIFIER = re.compile(r"[*+?]|\{(\d+)(,\d*)?\}")


def _anchor(p: str, i: int, out: list[str]) -> int:
    """`$` at p[i], which Java lets a quantifier follow (`${1,128}`): kept when it must match at least once,
    dropped when it may match no time. Returns the index after it and its quantifier."""
    q = _QUANTIFIER.match(p, i + 1)
    if q is None:
        out.append("$")
        return i + 1
    at_least = 1 if q.group(0) == "+" else 0 if q.group(0) in "*?" else int(q.group(1))
    if at_least:
        out.append("$")
    return q.end()


def java_to_python(p: str) -> str:
    """The Python pattern that reads `p` as Java does, or Untranslatable."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(p):
        c = p[i]
        if c == "\\":
            i, text = _escape(p, i + 1, in_class)
            out.append(text)
            continue
        if in_class and (c == "[" or p.startswith("&&", i)):
            raise Untranslatable("a nested class or a class intersection")
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        if c == "." and not in_class:
            out.append(_DOT)
        elif c == "$" and not in_class:
            i = _anchor(p, i, out)
            continue
        elif c == "(" and p.startswith("(?<", i) and not p.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")  # a named group
            i += 3
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=None)
def compiled(pattern: str) -> re.Pattern[str] | None:
    """The Java `pattern` compiled for a whole match, or None when it cannot be read as Java reads it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "possible nested set" and the like: the translation is deliberate
            return re.compile(java_to_python(pattern), re.ASCII)
    except (Untranslatable, re.error, ValueError, OverflowError):
        return None


def full_match(pattern: str, value: str) -> bool:
    """Whether `value` matches the Java `pattern` as a whole; a pattern Python cannot read matches everything."""
    regex = compiled(pattern)
    return regex is None or regex.fullmatch(value) is not None

"""Issue 13 item 5: what DatasetObjectCreatedRule delivers is what the functions are told it delivers.

The functions refuse a routes file whose route waits for an object the rule never delivers (a marker the rule's
suffix does not end, or `trigger = "object"` under a marker rule), reading HUBTUNE_DELIVERED_MARKERS: the rule's
MarkerSuffix, or `*` when it is empty. The Rust check takes a suffix as "the key ends with it" (route.rs,
check_delivered); these tests hold the rule to that reading, for several suffixes.
"""

import re

import pytest

import cfn

# Keys in a dataset folder under the prefix (a marker directly in a prefix launches nothing: dataset.rs rejects it).
KEYS = [
    "datasets/a/2026-12-04/_SUCCESS",
    "datasets/a/2026-12-04/_DONE",
    "datasets/a/2026-12-04/train.jsonl",
    "datasets/b/x/y/_DONE",
    "elsewhere/a/_DONE",
]


def _key_matches(patterns: list, key: str) -> bool:
    """EventBridge's reading of a key filter: any of the listed operators (prefix, or wildcard with `*` only)."""
    for p in patterns:
        if "prefix" in p and key.startswith(p["prefix"]):
            return True
        if "wildcard" in p and re.fullmatch(".*".join(map(re.escape, p["wildcard"].split("*"))), key, re.S):
            return True
    return False


def _delivered_by_variable(delivered: str, key: str) -> bool:
    """What the functions believe the rule delivers under the dataset prefix (HUBTUNE_DELIVERED_MARKERS)."""
    if not key.startswith("datasets/"):
        return False
    return delivered == "*" or any(key.endswith(s) for s in delivered.split(","))


@pytest.mark.parametrize("suffix, expected", [("_SUCCESS", "_SUCCESS"), ("_DONE", "_DONE"), ("SUCCESS", "SUCCESS"),
                                              ("/_DONE", "/_DONE"), ("", "*")])
def test_the_functions_are_told_what_the_rule_delivers(template, suffix, expected):
    resolver = cfn.Resolver(template, {"MarkerSuffix": suffix})
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    delivered = resolver.resolve(env["HUBTUNE_DELIVERED_MARKERS"])
    assert delivered == expected
    key_filter = resolver.props("DatasetObjectCreatedRule")["EventPattern"]["detail"]["object"]["key"]
    for key in KEYS:
        assert _key_matches(key_filter, key) == _delivered_by_variable(delivered, key), (suffix, key)


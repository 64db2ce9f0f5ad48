"""Issue 17 item 13: how deep a JSON text nests, measured without recursion and without parsing."""

from __future__ import annotations

import json

import pytest

from services.common.jsondepth import MAX_JSON_DEPTH, depth_exceeds, json_depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"x"', 0),
        ("[]", 1),
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["a\\\\\\"[[", [[]]]', 3),
        ('["never closed [[[[', 1),
        ('["[[[[", "]]]]{{{"]', 1),  # brackets inside strings do not count
        (r'["\"[[[", "\\", [[]]]', 3),  # nor do escaped quotes end a string
        ('{"a": "\\\\"}', 1),
    ],
)
def test_item13_json_depth_counts_brackets_outside_strings(text: str, depth: int) -> None:
    assert json_depth(text) == depth
    assert json_depth(text.encode()) == depth


def test_item13_json_depth_of_very_deep_text_without_recursion() -> None:
    assert json_depth("[" * 1_000_000 + "]" * 1_000_000) == 1_000_000
    assert depth_exceeds("[" * (MAX_JSON_DEPTH + 1))
    assert not depth_exceeds("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)


def test_item13_a_resource_as_deep_as_allowed_parses() -> None:
    text = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert not depth_exceeds(text)
    json.loads(text)
    json.dumps(json.loads(text))

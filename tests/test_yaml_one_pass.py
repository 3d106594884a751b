"""Manifests' YAML is built in one pass over the parser's events when it can (hitl_cli/yaml_reader.py): whatever
a text holds, the one pass gives exactly what the two checked passes give, or the same refusal."""

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest

from conftest import make_manifest
from hitl_cli.yaml_reader import _built_from_events, _composed_documents, load_yaml_documents

DEPTH, NODES, VALUES, DOCUMENTS = 64, 10_000, 1_000, 100

TEXTS = [
    "a: 1", "a: 1\na: 2", "{a: 1, a: 2}", "1: a\n1.0: b", "True: 1\n1: 2", ".nan: 1\n.nan: 2",
    "a: &x 1\nb: *x", "a: &x\n  - 1", "- &a a", "<<: {a: 1}", "=: 1", "a: =", "? [1]\n: 2", "- ? a : 1", "{? a}",
    "? a\n? b", "!!set {a, b}", "!!omap [a: 1]", "!!map {a: 1}", "!!seq [1]", "!!map [1]", "a: !foo x", "a: ! 1",
    "a: !!binary aGVsbG8=", "a: 2020-01-01", "a: 2020-01-01T00:00:00Z", "2001-12-14: x", "a: 2026-02-30",
    "a: 9999-99-99", "a: .nan", "a: 1e3\nb: -.inf", "a: 0x1f\nb: 1_000\nc: 1:30", "a: 1" + "0" * 5000,
    "a: yes\nb: No\nc: ~\nd: null\ne: ''", "a: !!str 1", "a: !!int '7'", "a: !!float '1'", "a: !!null ''",
    "a: !!bool 'yes'", "a:\n  - b\n  - {c: d, e: [1,2]}", "---\n---\na: 1\n...\n", "", "# only a comment\n", "x",
    "[1, 2", "a: b: c", "a: 1\n---\n[", "[" * DEPTH + "]" * DEPTH, "[" * (DEPTH + 1) + "]" * (DEPTH + 1),
    "- x\n" * (VALUES - 1), "- x\n" * VALUES, "---\na: 1\n" * DOCUMENTS, "---\na: 1\n" * (DOCUMENTS + 1),
]  # fmt: skip


def outcome(load, text: str):
    try:
        # repr tells 1 from 1.0 from True, a date from a string, and shows every mapping in its order.
        return "built", repr(load(text, False, DEPTH, NODES, VALUES, DOCUMENTS))
    except Exception as error:  # noqa: BLE001 - the refusal itself is what is compared
        return "refused", type(error).__name__, str(error)


def assert_same(text: str) -> None:
    assert outcome(load_yaml_documents, text) == outcome(_composed_documents, text)


def test_plain_manifests_are_built_in_the_one_pass():
    """Not left to the two passes (which would hide a broken one pass behind the same answer)."""
    manifests = [make_manifest(id="one", statement="DROP TABLE t"), make_manifest(id="two", rows=10, system="postgres")]
    text = yaml.safe_dump_all(manifests) + "---\ncreated: 2026-01-01T00:00:00Z\nsummary: " + "long " * 100 + "\n"
    assert _built_from_events(text, DEPTH, VALUES, DOCUMENTS) == _composed_documents(text, False, DEPTH, NODES, VALUES, DOCUMENTS)


@pytest.mark.parametrize("text", TEXTS)
def test_one_pass_builds_or_refuses_as_the_two_passes_do(text):
    assert_same(text)


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
    st.sampled_from(["yes", "~", "=", "<<", "0x1f", "1:30", "2020-01-01", ".inf", "&a", "*a", "!x", "!!binary"]),
)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_SCALARS.filter(lambda k: k is not None), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_VALUES, st.booleans())
def test_dumped_values_are_read_alike(value, flow):
    assert_same(yaml.safe_dump(value, default_flow_style=flow))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", ":", " ", "\n", "- ", "[", "]", "{", "}", ",", "&x ", "*x", "!!str ", "!t ",
                                 "? ", "<<", "=", "'", '"', "---\n", "1", "#", "  "]), max_size=30).map("".join))  # fmt: skip
def test_any_text_is_read_alike(text):
    assert_same(text)

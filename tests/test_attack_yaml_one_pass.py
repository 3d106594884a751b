"""Red team on the one-pass YAML builder (hitl_cli/yaml_reader.py: _built_from_events and its scalar cache).

Each test tries to make the one pass and the two checked passes (_composed_documents) disagree about what a
manifest holds - its values, their exact types, their order, a duplicate key, a limit - or to make the scalar
cache carry something from one file into another. The comparison is stricter than tests/test_yaml_one_pass.py's:
whenever the one pass builds something at all (it may also give up), it must be exactly, type for type, what the
two passes build, so a fallback cannot hide a wrong build."""

import datetime as dt
import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitl_cli.yaml_reader import _built_from_events, _composed_documents, load_yaml_documents

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

DEPTH, NODES, VALUES, DOCUMENTS = 64, 10_000, 1_000, 100


def typed(value: object) -> object:
    """The value with every scalar's exact type beside it (1, 1.0 and True differ; a date is not a datetime), every
    mapping as its ordered items, nan as a marker (nan != nan would fail any comparison)."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    if isinstance(value, dt.datetime):
        return ("datetime", value.isoformat(), repr(value.tzinfo))
    return (type(value).__name__, value)


def outcome(load, text: str):
    try:
        return "built", [(line, typed(value)) for line, value in load(text)]
    except Exception as error:  # noqa: BLE001 - the refusal itself is what is compared
        return "refused", type(error).__name__, str(error)


def one_pass(text):
    return _built_from_events(text, DEPTH, VALUES, DOCUMENTS)


def two_passes(text):
    return _composed_documents(text, False, DEPTH, NODES, VALUES, DOCUMENTS)


def loaded(text):
    return load_yaml_documents(text, False, DEPTH, NODES, VALUES, DOCUMENTS)


def assert_agree(text: str) -> None:
    checked = outcome(two_passes, text)
    fast = outcome(one_pass, text)
    if fast[0] == "built":  # the one pass may give up; when it builds, it must build exactly what is checked
        assert fast == checked, text
    assert outcome(loaded, text) == checked, text


# Fragments chosen where YAML 1.1 resolution, tags and keys are subtle.
TRICKY = [
    # keys equal across types: 1 / true / 1.0 / 0x1 / 0o1 / 1:0 (sexagesimal 60 is not 1) / ~ / null / ''
    "1: a\ntrue: b", "1: a\n1.0: b", "1: a\n0x1: b", "1: a\n+1: b", "60: a\n1:00: b", "~: a\nnull: b",
    "'': a\n!!null '': b", "0: a\nfalse: b", "0: a\n-0.0: b", "1: a\n!!float 1: b", "1: a\n!!bool yes: b",
    "1: a\n!!int '1': b", "'1': a\n1: b", "!!str 1: a\n1: b", "! 1: a\n1: b", "!!float nan: a\n!!float nan: b",
    ".nan: a\n.NaN: b", ".inf: a\n1e400: b", "2001-12-14: a\n2001-12-14 00:00:00: b",
    "2001-12-14T00:00:00Z: a\n2001-12-14 00:00:00 +00:00: b", "2001-12-14t21:59:43.10-05:00: a",
    # merge / value keys, quoted and tagged
    "<<: {a: 1}", "'<<': {a: 1}", "!!str <<: x", "!!merge <<: {a: 1}", "a: <<", "=: x", "'=': x", "a: =",
    "!!value =: x", "action: {<<: {type: read}, type: drop}",
    # tags and directives
    "%TAG !e! tag:yaml.org,2002:\n---\na: !e!int 7", "%TAG !e! tag:yaml.org,2002:\n---\n!e!str 1: x\n1: y",
    "%TAG ! tag:yaml.org,2002:\n---\na: !str 7", "%TAG ! tag:yaml.org,2002:\n---\na: !int 7",
    "%TAG ! tag:yaml.org,2002:\n---\n!map {a: 1}", "%YAML 1.1\n---\na: 1", "%YAML 1.2\n---\na: 1",
    "a: !<tag:yaml.org,2002:str> 1", "a: !<tag:yaml.org,2002:int> '1'", "a: !<!> 1", "!<tag:yaml.org,2002:map> {a: 1}",
    "a: ! 1", "a: ! '1'", "a: ! true", "a: ! ~", "! {a: 1}", "! [1]", "a: !!timestamp 2020-01-01",
    "a: !!timestamp '2020-01-01 10:00:00+05:30'", "a: !!binary 'aGk='", "a: !!binary |\n  aGk=\n",
    "a: !!str", "a: !!int", "a: !!null", "a: !!bool", "a: !!float", "a: !!float .nan", "a: !!int 0b101",
    "a: !!int 1_0", "a: !!int 0o17", "a: !!int 017", "a: !!float 1_0.5", "a: !!bool oN", "a: !!bool n",
    # key order, overwritten-looking keys
    "b: 1\na: 2\nc: 3", "{b: 1, a: 2, c: 3}", "? b\n: 1\n? a\n: 2", "a: 1\n'a ': 2", "a: 1\n\"a\": 2",
    "a: 1\n\"\\x61\": 2", "a: 1\n? a\n: 2", "? !!str a\n: 1\na: 2",
    # unicode, BOM, line breaks
    "\ufeffa: 1", "a: 1\n\ufeff", "\ufeff---\na: 1\n---\n\ufeffb: 2", "a\u0085: 1", "a: 1\u2028b: 2",
    "\u00e9: 1\ne\u0301: 2", "a: \"\\u00e9\"\nb: \"e\\u0301\"", "a: \"\\ud800\"", "a: \"\\0\"", "\"a\\0\": 1\na: 2",
    # documents, empty ones, lines
    "---", "--- \n...\n---\n", "---\n...\n", "...\n", "---\n---\n---\n", "--- 1\n--- [2]\n--- {a: 3}",
    "a: 1\n...\n---\na: 2", "\n\n\n---\n\n\na: 1", "--- !!str\n---\na: 1", "---\n- a\n---\n- b\n- c",
    # manifests' own fields, where a difference would matter most
    "action:\n  type: read\n  type: drop", "action: {type: read}\naction: {type: drop}",
    "target:\n  environment: dev\n  ? environment\n  : production", "action:\n  statement: !!binary U0VMRUNU",
    "action:\n  type: ! drop", "action:\n  type: !!str drop", "action:\n  type: [drop]", "target: {environment: ~}",
    "target:\n  environment: !!null production", "metadata: {id: 0x10}", "metadata: {id: 1_0}", "metadata: {id: 1:0}",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_fragments_build_alike_type_for_type(text):
    assert_agree(text)


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_fragments_build_alike_after_every_other_was_cached(text):
    """The cache filled by every fragment first (in both orders): what was remembered from one file never
    changes what another holds."""
    for other in TRICKY + TRICKY[::-1]:
        outcome(loaded, other)
    assert_agree(text)


def _limit_texts() -> list[str]:
    deep = lambda n: "[" * n + "]" * n  # noqa: E731
    deep_map = lambda n: "".join("  " * i + "k:\n" for i in range(n - 1)) + "  " * (n - 1) + "k: v"  # noqa: E731
    values = lambda n: "".join(f"- {i}\n" for i in range(n))  # noqa: E731
    pairs = lambda n: "".join(f"k{i}: v\n" for i in range((n - 1) // 2))  # noqa: E731
    docs = lambda n: "---\na: 1\n" * n  # noqa: E731
    found = []
    for n in (DEPTH - 1, DEPTH, DEPTH + 1):
        found += [deep(n), deep_map(n), "a: " + deep(n)]
    for n in (VALUES - 2, VALUES - 1, VALUES, VALUES + 1):
        found += [values(n), "[" + ", ".join(["x"] * n) + "]", pairs(n + 1), pairs(n + 2)]
    for n in (DOCUMENTS - 1, DOCUMENTS, DOCUMENTS + 1):
        found += [docs(n), "---\n" * n, "--- 1\n" * n]
    return found


@pytest.mark.parametrize("text", _limit_texts())
def test_limits_at_their_boundaries_refuse_alike(text):
    assert_agree(text)


def test_a_huge_file_builds_alike():
    scalar = "x" * 2_000_000
    assert_agree(f"a: {scalar}\nb: '{scalar}'")
    many = "".join(f"k{i}: {'v' * 300}{i}\n" for i in range(VALUES // 2 - 1))
    assert_agree(many)


_KEYS = st.sampled_from([
    "a", "'a'", "!!str a", "1", "'1'", "1.0", "true", "yes", "'yes'", "~", "null", "''", "0x1", "0o1", "01", "+1",
    "1:0", "60", "1e0", ".nan", "!!float nan", ".inf", "2001-01-01", "'2001-01-01'", "<<", "'<<'", "=", "'='",
    "! 1", "!!int '1'", "!!bool 'on'", "on", "y", "Y", "n", "type", "environment", "statement", "-0", "0", "false",
    "0.0", "-0.0", "1_0", "10", "[1]", "{a: 1}", "&k a", "*k", "!x a", "?",
])  # fmt: skip
_SCALAR_VALUES = st.sampled_from([
    "drop", "read", "production", "1", "1.5", "!!str 1", "! 1", "'1'", "!!float 1", "!!int '2'", "true", "~", "",
    "2020-01-01", "2020-01-01T10:00:00+05:30", "!!timestamp 2020-01-01", "!!binary aGk=", ".nan", "=", "<<",
    "!!null ''", "\"\\ud83d\\ude00\"", "'a''b'", "|\n  block\n", "&v x", "*v", "!!set {a}", "!!omap [a: 1]",
])  # fmt: skip


@st.composite
def _flow_or_block(draw, depth: int = 0) -> str:
    """YAML text of nested mappings and lists in block and flow styles, with tricky keys and scalars."""
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        return draw(_SCALAR_VALUES)
    flow = draw(st.booleans())
    if draw(st.booleans()):  # a mapping
        pairs = draw(st.lists(st.tuples(_KEYS, _flow_or_block(depth + 1)), min_size=1, max_size=4))
        if flow:
            return "{" + ", ".join(f"{k}: {v.strip() if '|' not in v else 'x'}" for k, v in pairs) + "}"
        indent = "  " * (depth + 1)
        lines = []
        for key, value in pairs:
            if value.startswith("|") or "\n" in value:
                value = "x"
            lines.append(f"{key}: {value}")
        return "\n" + "\n".join(indent + line for line in lines)
    items = draw(st.lists(_flow_or_block(depth + 1), min_size=1, max_size=4))
    if flow:
        return "[" + ", ".join(item.strip() if "\n" not in item else "x" for item in items) + "]"
    indent = "  " * (depth + 1)
    return "\n" + "\n".join(indent + "- " + (item if "\n" not in item else "x") for item in items)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_flow_or_block(), min_size=1, max_size=3), st.booleans())
def test_generated_documents_build_alike_type_for_type(documents, explicit_starts):
    text = "".join(("---" if explicit_starts or i else "") + (" " if not doc.startswith("\n") else "") + doc + "\n"
                   for i, doc in enumerate(documents))
    assert_agree(text)


_DUMPABLE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6), st.binary(max_size=4),
              st.dates(), st.datetimes(timezones=st.none() | st.just(dt.UTC) | st.just(dt.timezone(dt.timedelta(hours=5))))),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.one_of(st.booleans(), st.integers(), st.floats(), st.text(max_size=4), st.dates()),
                      inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(_DUMPABLE, st.sampled_from([None, True, False]), st.sampled_from([None, "'", '"']), st.booleans())
def test_dumped_values_in_every_style_build_alike_type_for_type(value, flow, style, sort_keys):
    text = yaml.safe_dump(value, default_flow_style=flow, default_style=style, sort_keys=sort_keys, allow_unicode=True)
    assert_agree(text)


def test_values_from_the_cache_cannot_carry_one_files_changes_into_another():
    """Only scalars are remembered, and every scalar built is immutable: changing what one file gave (its
    containers) never shows in what the next file gives."""
    text = ("a: [1, 2]\nb: {c: d}\nt: 2020-01-01T10:00:00+05:30\nd: 2020-01-01\nbin: !!binary aGk=\nf: 1.5\n"
            "n: ~\ns: text\nyes: yes")
    first = loaded(text)[0][1]
    first["a"].append(3)
    first["b"]["c"] = "changed"
    first["new"] = "added"
    second = loaded(text)[0][1]
    assert second == two_passes(text)[0][1]
    scalars = [v for k, v in second.items() if k not in ("a", "b")] + list(second)
    immutable = (str, int, float, bool, type(None), bytes, dt.date, dt.datetime)
    assert all(type(v) in immutable for v in scalars), [type(v) for v in scalars]
    tz = second["t"].tzinfo
    assert type(tz) is dt.timezone  # immutable: nothing another caller could set on it
    with pytest.raises((AttributeError, TypeError)):
        tz.offset = dt.timedelta(0)  # type: ignore[attr-defined]


_MANIFEST = """\
apiVersion: hitl/v1
kind: ActionManifest
metadata: {{id: {id}}}
agent: {{id: claims-agent}}
action:
  type: {type}
  summary: s
  reversible: true
  statement: {statement}
{extra}
target: {{environment: {env}, resource: analytics.orders, resource_type: table, system: {system}}}
impact: {{pii: false, exposes_pii: false, estimated_cost_usd: {cost}}}
context: {{why: w, rollback: r}}
"""
_FIELDS = {
    "id": ["m-1", "'m-1'", "!!str 1", "1", "0x1", "yes", "! m", "m-1 # c"],
    "type": ["read", "drop", "'drop'", "! read", "!!str read", "Read", "read\n  type: drop", "[read]", "~", "!!str"],
    "statement": ["SELECT 1", "'DROP TABLE t'", "|\n    SELECT 1;\n    DROP TABLE t", ">\n    SELECT 1;\n    DROP TABLE t",
                  "\"SELECT 1;\\u2028DROP TABLE t\"", "!!binary U0VMRUNUIDE=", "~", "2020-01-01", "'SELECT 1'\n  statement: DROP TABLE t"],
    "extra": ["", "  type: drop", "  ? type\n  : drop", "  '<<': {type: drop}", "  <<: {type: drop}", "  =: drop",
              "  \"type\": drop", "  !!str type: drop"],
    "env": ["dev", "production", "'production'", "!!str production", "~", "Production", "dev, environment: production"],
    "system": ["postgres", "mysql", "~", "'mysql'", "!!str 1"],
    "cost": ["1", "1.0", "0x10", "1_0", "1:0", ".inf", ".nan", "!!float '1'", "!!int '2'", "'1'", "1e2", "yes"],
}


def _loaded_with(load, path):
    from hitl_cli import documents
    from hitl_cli.inputs import manifests_by_source

    original = documents.load_yaml_documents
    documents.load_yaml_documents = load
    try:
        found = []
        for loaded_manifests, problems in manifests_by_source([path]):
            found.append(([(m.id, m.line, m.policy_json, m.statement, m.system) for m in loaded_manifests],
                          [str(problem) for problem in problems]))
        return found
    finally:
        documents.load_yaml_documents = original


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({name: st.sampled_from(values) for name, values in _FIELDS.items()}), st.integers(1, 3))
def test_manifest_files_hold_the_same_action_target_and_statement_either_way(tmp_path_factory, fields, copies):
    """Manifests with tricky spellings of their deciding fields (action.type, target.environment, the statement,
    duplicate and merge keys...), read by hitl's own loader through the one pass and through the two checked passes
    only: the same manifests, the same policy input byte for byte, the same problems."""
    text = "---\n".join(_MANIFEST.format(**{**fields, "id": f"{fields['id']}" if n == 0 else f"c-{n}"}) for n in range(copies))
    path = tmp_path_factory.mktemp("m") / "plan.yaml"
    path.write_text(text)
    assert _loaded_with(load_yaml_documents, path) == _loaded_with(_composed_documents, path)

"""Property: however destructive SQL is disguised, declared `read` in production it never auto-approves.

Hypothesis builds hundreds of variants across dialects: keyword case, comments and whitespace between tokens,
quoted names, invisible and look-alike characters, extra statements around it, CTE-wrapped DML and
dialect-specific syntax. Each variant is decided by the real policies in real OPA.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_manifest

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

# (target.system, statement with {t} for the table); every one changes or can change data.
DESTRUCTIVE = [
    (None, "DROP TABLE {t}"),
    (None, "DELETE FROM {t}"),
    (None, "TRUNCATE TABLE {t}"),
    (None, "UPDATE {t} SET email = NULL"),
    (None, "GRANT ALL ON {t} TO PUBLIC"),
    (None, "INSERT INTO {t} VALUES (1)"),
    (None, "ALTER TABLE {t} DROP COLUMN email"),
    ("snowflake", "CREATE OR REPLACE TABLE {t} AS SELECT 1 AS x"),
    ("snowflake", "MERGE INTO {t} USING s ON {t}.id = s.id WHEN MATCHED THEN UPDATE SET x = 1"),
    ("snowflake", "ALTER TABLE {t} SWAP WITH other"),
    ("snowflake", "EXECUTE IMMEDIATE 'DROP TABLE {t}'"),
    ("snowflake", "CALL admin.purge()"),
    ("databricks", "INSERT OVERWRITE TABLE {t} SELECT 1"),
    ("databricks", "VACUUM {t}"),
    ("postgres", "WITH x AS (DELETE FROM {t} RETURNING 1) SELECT 1"),
    ("postgres", "COPY {t} TO PROGRAM 'sh'"),
    ("postgres", "DO $$ BEGIN EXECUTE 'DROP TABLE {t}'; END $$"),
    ("postgres", "EXECUTE 'DR' || 'OP TABLE {t}'"),
    ("mysql", "REPLACE INTO {t} VALUES (1)"),
    ("mysql", "SELECT 1 /*! ; DROP TABLE {t} */"),
    ("sqlserver", "EXEC('DR' + 'OP TABLE {t}')"),
    ("sqlserver", "DELETE TOP (10) FROM {t}"),
    ("bigquery", "EXECUTE IMMEDIATE CONCAT('DROP TABLE ', '{t}')"),
    ("bigquery", "DELETE FROM {t} WHERE TRUE"),
    ("duckdb", "DROP TABLE IF EXISTS {t}"),
    ("redshift", "UPDATE {t} SET email = NULL WHERE 1 = 1"),
    ("unknown-engine", "DROP TABLE {t}"),
]
QUOTES = {
    None: ['"{}"'], "snowflake": ['"{}"'], "postgres": ['"{}"'], "redshift": ['"{}"'], "duckdb": ['"{}"'],
    "databricks": ["`{}`"], "mysql": ["`{}`"], "bigquery": ["`{}`"], "sqlserver": ["[{}]", '"{}"'],
    "unknown-engine": ['"{}"'],
}  # fmt: skip
SEPARATORS = [" ", "  ", "\t", "\n", "\r\n", " /* note */ ", "/**/", " -- note\n", "\n\n  "]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e"]
LOOK_ALIKES = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "E": "\u0415", "O": "\u041e"}
FILLERS = ["", "SELECT 1;", "SELECT 1;\n", "-- nightly job\n", "/* read only */ "]


@st.composite
def disguised(draw) -> tuple[str | None, str]:
    system, template = draw(st.sampled_from(DESTRUCTIVE))
    quote = draw(st.sampled_from(QUOTES[system]))
    schema, table = draw(st.sampled_from(["analytics", "Analytics", "crm"])), draw(st.sampled_from(["customers", "t"]))
    name = ".".join(quote.format(p) if draw(st.booleans()) else p for p in (schema, table))
    words = template.format(t=name).split(" ")
    words = [_recased(draw, w) for w in words]
    text = words[0]
    for word in words[1:]:
        text += draw(st.sampled_from(SEPARATORS)) + word
    text = _unicode_trick(draw, text)
    before, after = draw(st.sampled_from(FILLERS)), draw(st.sampled_from(["", ";", "; SELECT 2", ";\n"]))
    return system, before + text + after


def _recased(draw, word: str) -> str:
    style = draw(st.sampled_from(["same", "lower", "upper", "mixed"]))
    if style == "mixed":
        return "".join(c.upper() if draw(st.booleans()) else c.lower() for c in word)
    return {"same": word, "lower": word.lower(), "upper": word.upper()}[style]


def _unicode_trick(draw, text: str) -> str:
    trick = draw(st.sampled_from(["none", "none", "invisible", "look_alike", "fullwidth"]))
    position = draw(st.integers(0, len(text) - 1))
    if trick == "invisible":
        return text[:position] + draw(st.sampled_from(INVISIBLE)) + text[position:]
    if trick == "look_alike":
        swappable = [i for i, c in enumerate(text) if c in LOOK_ALIKES]
        if swappable:
            i = draw(st.sampled_from(swappable))
            return text[:i] + LOOK_ALIKES[text[i]] + text[i + 1 :]
    if trick == "fullwidth":
        end = min(len(text), position + draw(st.integers(1, 6)))
        wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text[position:end])
        return text[:position] + wide + text[end:]
    return text


BATCH = 25


@settings(max_examples=16, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(disguised(), min_size=BATCH, max_size=BATCH))
def test_disguised_destructive_sql_never_auto_approves_as_a_read(policy, variants):
    manifests = []
    for index, (system, statement) in enumerate(variants):
        manifest = make_manifest(id=f"v-{index}", type="read", env="production", statement=statement)
        manifest["target"]["system"] = system
        manifests.append(manifest)
    decisions = policy.decide_many("default", manifests)
    passed = [(m["target"]["system"], m["action"]["statement"]) for m, d in zip(manifests, decisions) if d.tier == "auto_approve"]
    assert passed == []

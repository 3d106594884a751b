"""The committed JSON Schemas are generated from the models, validate the shipped files, and never drift."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import ROOT, hitl
from hitl_cli.schemas import SCHEMA_MODELS, schema_file, schema_text

SCHEMAS = ROOT / "schemas"


@pytest.mark.parametrize("name", SCHEMA_MODELS)
def test_committed_schema_matches_the_model(name):
    committed = schema_file(SCHEMAS, name)
    assert committed.is_file(), f"{committed} is missing: run `make schemas`"
    assert committed.read_text() == schema_text(name), f"{committed} drifted from the model: run `make schemas`"


def test_schema_command_writes_what_is_committed(tmp_path):
    result = hitl("schema", "--write", tmp_path)
    assert result.returncode == 0, result.stderr
    for name in SCHEMA_MODELS:
        assert schema_file(tmp_path, name).read_text() == schema_file(SCHEMAS, name).read_text()
    # hitl serve's OpenAPI document too (tests/test_serve.py compares it with the one served)
    assert (tmp_path / "openapi.json").read_text() == (SCHEMAS / "openapi.json").read_text()


def _documents(path: Path):
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@pytest.mark.parametrize(
    ("name", "files"),
    [
        ("action-manifest", sorted((ROOT / "examples" / "manifests").glob("*.yaml"))),
        ("profile", sorted((ROOT / "org_profiles").glob("*.yaml"))),
        ("people", sorted((ROOT / "org_profiles" / "people").glob("*.yaml"))),
        ("track-record", [ROOT / "examples" / "track-record.yaml"]),
    ],
)
def test_shipped_files_validate_against_the_schemas(name, files):
    schema = json.loads(schema_file(SCHEMAS, name).read_text())
    assert files
    for path in files:
        for document in _documents(path):
            jsonschema.validate(json.loads(json.dumps(document, default=str)), schema)


def test_schema_rejects_an_unknown_top_level_key():
    schema = json.loads(schema_file(SCHEMAS, "action-manifest").read_text())
    manifest = _documents(ROOT / "examples" / "manifests" / "describe-table.yaml")[0]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**manifest, "surprise": 1}, schema)

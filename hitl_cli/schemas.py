"""JSON Schemas for editors and other tools, generated from the pydantic models (never written by hand)."""

import json
from pathlib import Path

from pydantic import BaseModel

from hitl_cli.models import ActionManifest, Profile, TrackRecord
from hitl_cli.people import PeopleFile

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "action-manifest": ActionManifest,
    "profile": Profile,
    "people": PeopleFile,
    "track-record": TrackRecord,
}


def schema_text(name: str) -> str:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **SCHEMA_MODELS[name].model_json_schema()}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def schema_file(folder: Path, name: str) -> Path:
    return folder / f"{name}.schema.json"


OPENAPI_FILE = "openapi.json"


def openapi_text() -> str:
    """The OpenAPI document `hitl serve` serves at /openapi.json (hitl_cli.service.app)."""
    from hitl_cli.api import Engine
    from hitl_cli.service.app import create_app

    return json.dumps(create_app(Engine(), token=None).openapi(), indent=2, sort_keys=True) + "\n"

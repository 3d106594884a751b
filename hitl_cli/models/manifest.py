"""The action manifest: one action an agent intends to take (spec/action-manifest.md)."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from hitl_cli.models.common import Identifier, StrictModel
from hitl_cli.models.plain_text import Printable

OneLine = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"^[^\r\n]*$"), Printable]
ResourceType = Literal[
    "table", "column", "schema", "view", "pipeline", "dashboard", "catalog_entry", "document", "test", "other"
]


class Metadata(StrictModel):
    id: Identifier
    created: Annotated[datetime | None, Field(strict=False)] = None


class Agent(StrictModel):
    id: Identifier


class Action(StrictModel):
    type: Annotated[str, StringConstraints(min_length=1, max_length=128), Printable]
    summary: OneLine
    statement: str | None = None
    confidence: Annotated[float | None, Field(ge=0.0, le=1.0)] = None
    reversible: bool = False
    novel: bool = False


class Target(StrictModel):
    environment: Annotated[str, StringConstraints(min_length=1, max_length=128), Printable]
    system: Annotated[str, Printable] | None = None
    resource: Annotated[str, Printable] | None = None
    resource_type: ResourceType | None = None


class Impact(StrictModel):
    pii: bool = False
    exposes_pii: bool = False
    rows_affected: Annotated[int | None, Field(ge=0)] = None
    estimated_cost_usd: Annotated[float | None, Field(ge=0.0)] = None


class Context(StrictModel):
    """Shown to reviewers, never used to lower a tier; unknown keys are kept."""

    model_config = ConfigDict(extra="allow")

    why: str | None = None
    read: list[str] | None = None
    risks: list[str] | None = None
    plan: str | None = None
    rollback: str | None = None


class ActionManifest(StrictModel):
    apiVersion: Literal["hitl/v1"]
    kind: Literal["ActionManifest"]
    metadata: Metadata
    agent: Agent
    action: Action
    target: Target
    impact: Impact = Field(default_factory=Impact)
    context: Context = Field(default_factory=Context)

    @property
    def id(self) -> str:
        return self.metadata.id

    def policy_input(self) -> dict:
        """The manifest as the policy sees it: every field present, absent optionals as null."""
        return self.model_dump(mode="json")

    def policy_input_json(self) -> bytes:
        """policy_input() as JSON, without building the dict first."""
        return self.model_dump_json().encode()

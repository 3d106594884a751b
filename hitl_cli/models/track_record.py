"""What the platform measured about each agent (spec/track-record.md)."""

from typing import Annotated

from pydantic import Field, model_validator

from hitl_cli.models.common import AgentLevel, Identifier, StrictModel

Count = Annotated[int, Field(ge=0)]


class AgentRecord(StrictModel):
    level: AgentLevel
    reviewed: Count
    approved: Count
    rejected: Count

    @model_validator(mode="after")
    def _outcomes_within_reviewed(self) -> "AgentRecord":
        if self.approved + self.rejected > self.reviewed:
            raise ValueError("approved + rejected cannot exceed reviewed")
        return self


class TrackRecord(StrictModel):
    agents: dict[Identifier, AgentRecord] = Field(default_factory=dict)

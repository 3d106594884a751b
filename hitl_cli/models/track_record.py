"""What the platform measured about each agent (docs/track-record.md)."""

from typing import Annotated

from pydantic import Field, PrivateAttr, model_validator

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


# A record is read whole and never changed after (a new reading is a new record): a long-lived caller decides with
# the same record again and again, its policy input made once (policy_input).
class TrackRecord(StrictModel):
    agents: dict[Identifier, AgentRecord] = {}  # pydantic copies it for each instance
    _invalid_agents: frozenset[str] = PrivateAttr(default=frozenset())
    _policy_input: dict | None = PrivateAttr(default=None)

    @classmethod
    def with_invalid_entries(cls, agents: dict[str, AgentRecord], invalid_agents: set[str]) -> "TrackRecord":
        """The valid entries; the agents whose entry did not validate are left out, and remembered."""
        record = cls(agents=agents)
        record._invalid_agents = frozenset(invalid_agents)
        return record

    def policy_input(self) -> dict:
        """input.track_record: the agents, and the ids whose entry was invalid (they run as new agents). Made the first
        time it is asked for, and the same dict after: a caller never changes it."""
        if self._policy_input is None:
            self._policy_input = {**self.model_dump(mode="json"), "invalid_agents": sorted(self._invalid_agents)}
        return self._policy_input

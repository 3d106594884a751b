"""Graduated trust: which agents' measured records support a higher level, and a person's acceptance of one.
Whether a record supports a level is the policy's answer (data.hitl.trust_levels), never Python's."""

from dataclasses import dataclass
from pathlib import Path

from hitl_cli import clock
from hitl_cli.engine import policy_engine
from hitl_cli.engine.endpoint import OpaEndpoint
from hitl_cli.errors import NotFound, Refused
from hitl_cli.inputs import load_profile, profile_path
from hitl_cli.models import Profile, TrackRecord
from hitl_cli.models.common import PromotableLevel
from hitl_cli.models.trust import TrustStanding
from hitl_cli.models import names
from hitl_cli.models.workflow import TrustGrant
from hitl_cli.store.connection import Mode, open_store
from hitl_cli.workflow import events
from hitl_cli.workflow.arguments import person_name
from hitl_cli.workflow.track import track_record


@dataclass(frozen=True)
class Offer:
    agent: str
    standing: TrustStanding
    reviewed: int
    approved: int

    @property
    def level(self) -> str:
        """The highest level on offer."""
        return self.standing.promotable[-1]

    def as_dict(self) -> dict:
        return {"agent": self.agent, "offered": self.level, "reviewed": self.reviewed, "approved": self.approved,
                **self.standing.model_dump()}


def _standings(profile: Profile, record: TrackRecord, remote: OpaEndpoint | None) -> dict[str, TrustStanding]:
    if not record.agents:
        return {}
    with policy_engine([profile], remote) as engine:
        return engine.trust_levels(profile.name, record.model_dump(mode="json"))


def offers(state: Path, profile_ref: str, remote: OpaEndpoint | None) -> list[Offer]:
    profile = load_profile(profile_path(profile_ref))
    with open_store(state, Mode.READ) as store, store.read() as connection:
        record = track_record(connection)
    return [
        Offer(agent, agent_standing, record.agents[agent].reviewed, record.agents[agent].approved)
        for agent, agent_standing in sorted(_standings(profile, record, remote).items())
        if agent_standing.promotable
    ]


def promote(
    state: Path, agent: str, level: PromotableLevel, person: str, profile_ref: str, remote: OpaEndpoint | None
) -> TrustGrant:
    """Record a person's acceptance of a promotion, if the agent's measured record supports that level."""
    person = person_name(person)
    if names.same(person, agent):
        raise Refused(f"{person} is the agent itself; an agent never promotes itself")
    profile = load_profile(profile_path(profile_ref))
    with open_store(state, Mode.WRITE) as store:
        with store.read() as connection:
            record = track_record(connection)
        if agent not in record.agents:
            raise NotFound(f"agent {agent!r} has no record in {store.path}: nothing measured, nothing to promote")
        agent_standing = _standings(profile, record, remote)[agent]
        if level not in agent_standing.promotable:
            measured = record.agents[agent]
            raise Refused(
                f"{agent} cannot be promoted to {level} under profile {profile.name}: "
                f"granted {agent_standing.granted}, its record ({measured.approved} approved of {measured.reviewed} "
                f"reviewed) supports {agent_standing.supported}"
            )
        with store.write("promote") as connection:
            if track_record(connection) != record:
                raise Refused(f"the record of {agent} changed while the promotion was being checked; try again")
            grant = TrustGrant(agent=agent, level=level, person=person, at=clock.now())
            events.trust_granted(connection, grant)
    return grant

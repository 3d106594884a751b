"""A model field whose default is a plain list or dict (`PiiPolicy.tables = []`, `TrackRecord.agents = {}`) is
shared state if the model does not copy it: in a long-lived `hitl serve` or hitl_cli.api.Engine, a table or agent
added to one request's profile or track record would then be in every other one's. Each instance gets its own."""

import pytest

from conftest import TRUSTED_AGENT, shipped_profile
from hitl_cli.models import AgentRecord, Profile, TrackRecord
from hitl_cli.models.profile import PiiPolicy

RECORD = {"level": "medium", "reviewed": 10, "approved": 10, "rejected": 0}


def profile_without_pii_tables() -> Profile:
    data = shipped_profile("default")
    data["pii"].pop("tables", None)
    return Profile.model_validate(data)


@pytest.mark.attack
@pytest.mark.parametrize("build", [
    lambda: PiiPolicy(exposure_tier="block", touch_floor=None),
    lambda: PiiPolicy.model_validate({"exposure_tier": "block", "touch_floor": None}),
    lambda: PiiPolicy.model_validate_json('{"exposure_tier": "block", "touch_floor": null}'),
    lambda: PiiPolicy.model_construct(exposure_tier="block", touch_floor=None),
    lambda: profile_without_pii_tables().pii,
])
def test_two_profiles_never_share_their_pii_tables(build):
    first, second = build(), build()
    first.tables.append("hr.salaries")
    assert second.tables == [] and build().tables == []
    assert PiiPolicy.model_fields["tables"].default == []


@pytest.mark.attack
@pytest.mark.parametrize("build", [
    TrackRecord,
    lambda: TrackRecord.model_validate({}),
    lambda: TrackRecord.model_validate_json("{}"),
    TrackRecord.model_construct,
    lambda: TrackRecord.with_invalid_entries({}, set()),
])
def test_two_track_records_never_share_their_agents(build):
    first, second = build(), build()
    first.agents[TRUSTED_AGENT] = AgentRecord.model_validate(RECORD)
    assert second.agents == {} and build().agents == {}
    assert second.policy_input()["agents"] == {}
    assert TrackRecord.model_fields["agents"].default == {}

"""pydantic models: the single source of truth for manifests, profiles, track records and decisions."""

from hitl_cli.models.decision import Decision, Reason
from hitl_cli.models.manifest import ActionManifest
from hitl_cli.models.profile import Profile
from hitl_cli.models.track_record import AgentRecord, TrackRecord

__all__ = ["ActionManifest", "AgentRecord", "Decision", "Profile", "Reason", "TrackRecord"]

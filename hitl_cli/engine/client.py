"""Asking an OPA server for decisions; every way that can go wrong becomes an EngineError."""

import json
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from hitl_cli import clock, settings
from hitl_cli.engine import connection, consistency, revisions
from hitl_cli.engine.endpoint import OpaEndpoint
from hitl_cli.errors import EngineError
from hitl_cli.models import Decision, Profile
from hitl_cli.models.decision import Reason
from hitl_cli.models.trust import TrustStanding
from hitl_cli.statements import analysis_json

DECISIONS_WHAT = "data.hitl.main.decisions"
TRUST_LEVELS_WHAT = "data.hitl.trust_levels.levels"
PROFILES_WHAT = "data.hitl.profiles"
_DECISION_LIST = TypeAdapter(list[Decision])


class PolicyClient:
    """Decisions under the given profiles (the ones loaded in the engine), each checked before it is returned."""

    def __init__(self, endpoint: OpaEndpoint, profiles: list[Profile], calibration: Path | None = None):
        self.url = endpoint.url.rstrip("/")
        self._profiles = {profile.name: profile for profile in profiles}
        self._calibration = calibration
        self.now = ""
        self.start_run()
        # input.history: what the state store says about the past (hitl_cli.policy_history), for every
        # decision of the run; empty (no `history` key) when the run reads no store.
        self._history_json = b""
        self._opa = connection.connect(endpoint, settings.opa_request_timeout())
        # One Reason object per distinct reason: 100,000 decisions share a few hundred of them.
        self._reasons: dict[tuple[str, str, str], Reason] = {}

    def start_run(self) -> None:
        """input.now: the one moment a run judges waivers' expiry at, from the system clock. A client kept for
        many runs (hitl_cli.api.Engine, hitl serve) takes it again for each, so no waiver outlives its expiry."""
        self.now = clock.now().isoformat().replace("+00:00", "Z")

    def set_history(self, history: dict | None) -> None:
        """Send this input.history with every later decision request (None: none)."""
        self._history_json = b"" if history is None else b',"history":' + json.dumps(history).encode()

    def close(self) -> None:
        self._opa.close_connection()

    def _query(self, what: str, input_data: dict):
        return connection.query(self._opa, self.url, what, input_data)

    def profile_names(self) -> set[str]:
        body = connection.read(self._opa, self.url, PROFILES_WHAT)
        profiles = body.get("result") if isinstance(body, dict) else None
        return set(profiles) if isinstance(profiles, dict) else set()

    def require_profile(self, name: str) -> None:
        names = self.profile_names()
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            raise EngineError(f"profile {name!r} is not loaded in OPA at {self.url} (loaded: {known})")

    def require_served_revisions(self) -> None:
        """A remote OPA must serve, for every profile, the policy revision hitl computes locally (one request)."""
        body = connection.read(self._opa, self.url, revisions.REVISIONS_WHAT)
        served = body.get("result") if isinstance(body, dict) else None
        for profile in self._profiles.values():
            mismatch = revisions.revision_mismatch(
                profile, served.get(profile.name) if isinstance(served, dict) else None, self.url, self._calibration
            )
            if mismatch is not None:
                raise EngineError(mismatch)

    def decide(self, profile: str, track_record: dict, manifests: list[dict]) -> list[Decision]:
        decisions: list[Decision] = []
        size = settings.opa_batch_size()
        for start in range(0, len(manifests), size):
            batch = manifests[start : start + size]
            decisions.extend(self.decide_batch(profile, track_record, batch))
        return decisions

    def decide_batch(self, profile: str, track_record: dict, manifests: list[dict]) -> list[Decision]:
        ids = [manifest["metadata"]["id"] for manifest in manifests]
        encoded = [json.dumps(manifest).encode() for manifest in manifests]
        facts = [analysis_json(*_statement_and_system(manifest)) for manifest in manifests]
        return self.decide_encoded(profile, json.dumps(track_record).encode(), ids, encoded, facts)

    def decide_encoded(
        self,
        profile: str,
        track_record_json: bytes,
        ids: list[str],
        manifests_json: list[bytes],
        facts_json: list[bytes],
    ) -> list[Decision]:
        """One request for a batch of manifests already in JSON (their policy input), answered in the same order.

        facts_json[i] is what hitl derived from manifest i's statement (hitl_cli.statements): input.statement_facts.
        """
        if profile not in self._profiles:
            raise EngineError(f"no decision can be checked under profile {profile!r}: it was not loaded for this run")
        input_json = b'{"profile":%s,"track_record":%s,"now":%s%s,"manifests":[%s],"statement_facts":[%s]}' % (
            json.dumps(profile).encode(),
            track_record_json,
            json.dumps(self.now).encode(),
            self._history_json,
            b",".join(manifests_json),
            b",".join(facts_json),
        )
        answer = self._query(DECISIONS_WHAT, json.loads(input_json))
        if not isinstance(answer, dict) or "result" not in answer:
            raise EngineError(f"policy returned no decision ({DECISIONS_WHAT} is undefined)")
        result = consistency.require_count(answer["result"], len(ids))
        try:
            decisions = _DECISION_LIST.validate_python(result)
        except ValidationError as error:
            raise EngineError(f"policy returned a malformed decision: {error.errors()[0]['msg']}") from None
        consistency.require_consistent(self._profiles[profile], ids, decisions)
        for decision in decisions:
            decision.reasons = [self._reasons.setdefault((r.code, r.tier, r.message), r) for r in decision.reasons]
        return decisions

    def trust_levels(self, profile: str, track_record: dict) -> dict[str, TrustStanding]:
        """Each agent's granted, supported and effective level, and the levels it may be promoted to now."""
        query = {"profile": profile, "track_record": track_record}
        body = self._query(TRUST_LEVELS_WHAT, query)
        result = body.get("result") if isinstance(body, dict) else None
        agents = set(track_record.get("agents", {}))
        if not isinstance(result, dict) or set(result) != agents:
            raise EngineError(
                f"policy returned no trust level for every agent ({TRUST_LEVELS_WHAT} is undefined or incomplete)"
            )
        try:
            return {agent: TrustStanding.model_validate(standing) for agent, standing in result.items()}
        except ValidationError as error:
            raise EngineError(f"policy returned a malformed trust level: {error.errors()[0]['msg']}") from None


def _statement_and_system(manifest: dict) -> tuple:
    """action.statement and target.system of a manifest given as its policy input (missing: None)."""
    action, target = manifest.get("action") or {}, manifest.get("target") or {}
    return action.get("statement"), target.get("system")

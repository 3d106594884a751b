"""Asking an OPA server for decisions; every way that can go wrong becomes an EngineError."""

import json
from pathlib import Path

import pydantic_core
from pydantic import TypeAdapter, ValidationError

from hitl_cli import clock, settings
from hitl_cli.engine import consistency, revisions, transport
from hitl_cli.engine.binary import require_supported
from hitl_cli.engine.endpoint import OpaEndpoint
from hitl_cli.errors import EngineError
from hitl_cli.models import Decision, Profile
from hitl_cli.models.common import TIERS
from hitl_cli.models.decision import Reason
from hitl_cli.models.trust import TrustStanding

DECISIONS_PATH = "/v1/data/hitl/main/decisions"
DECISIONS_WHAT = "data.hitl.main.decisions"
UNTIERED_PATH = "/v1/data/hitl/main/untiered"
UNTIERED_WHAT = "data.hitl.main.untiered"
TRUST_LEVELS_PATH = "/v1/data/hitl/trust_levels/levels"
TRUST_LEVELS_WHAT = "data.hitl.trust_levels.levels"
PROFILES_PATH = "/v1/data/hitl/profiles"
OPA_VERSION_PATH = "/v1/data/hitl/runtime/opa_version"
_DECISION_LIST = TypeAdapter(list[Decision])


class PolicyClient:
    """Decisions under the given profiles (the ones loaded in the engine), each checked before it is returned."""

    def __init__(self, endpoint: OpaEndpoint, profiles: list[Profile], calibration: Path | None = None):
        self.url = endpoint.url.rstrip("/")
        self._profiles = {profile.name: profile for profile in profiles}
        self._calibration = calibration
        # input.now: the one moment a run judges waivers' expiry at, from the system clock.
        self.now = clock.now().isoformat().replace("+00:00", "Z")
        # input.history: what the state store says about the past (hitl_cli.policy_history), for every
        # decision of the run; empty (no `history` key) when the run reads no store.
        self._history_json = b""
        self._http = transport.JsonHttp(endpoint, settings.opa_request_timeout())
        # One Reason object per distinct reason: 100,000 decisions share a few hundred of them.
        self._reasons: dict[tuple[str, str, str], Reason] = {}

    def set_history(self, history: dict | None) -> None:
        """Send this input.history with every later decision request (None: none)."""
        self._history_json = b"" if history is None else b',"history":' + json.dumps(history).encode()

    def close(self) -> None:
        self._http.close()

    def _call(self, what: str, send):
        """The JSON answer to one request (`send` returns its body); short strings in it are shared, not copied."""
        try:
            return pydantic_core.from_json(send(), cache_strings=True)
        except transport.Timeout:
            raise EngineError(f"OPA at {self.url} did not answer {what} within {self._http.timeout:g}s") from None
        except transport.Unreachable:
            raise EngineError(f"OPA at {self.url} is unreachable (asking for {what})") from None
        except transport.Untrusted as error:
            raise EngineError(f"OPA at {self.url} is not trusted: its certificate did not verify ({error})") from None
        except transport.HttpError as error:
            raise EngineError(f"OPA failed evaluating {what}: {_opa_message(error)}") from None
        except ValueError as error:
            raise EngineError(f"OPA at {self.url} gave an unusable answer for {what}: {error}") from None

    def _query(self, path: str, what: str, query: dict):
        return self._call(what, lambda: self._http.post(path, json.dumps({"input": query}).encode()))

    def profile_names(self) -> set[str]:
        body = self._call("the loaded profiles", lambda: self._http.get(PROFILES_PATH))
        profiles = body.get("result") if isinstance(body, dict) else None
        return set(profiles) if isinstance(profiles, dict) else set()

    def require_profile(self, name: str) -> None:
        names = self.profile_names()
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            raise EngineError(f"profile {name!r} is not loaded in OPA at {self.url} (loaded: {known})")

    def require_supported_opa(self) -> None:
        """A remote OPA must be at least the release hitl supports (it says so through hitl.runtime)."""
        body = self._call("the OPA version", lambda: self._http.get(OPA_VERSION_PATH))
        require_supported(body.get("result") if isinstance(body, dict) else None, f"OPA at {self.url}")

    def require_served_revisions(self) -> None:
        """A remote OPA must serve, for every profile, the policy revision hitl computes locally (one request)."""
        body = self._call(revisions.REVISIONS_WHAT, lambda: self._http.get(revisions.REVISIONS_PATH))
        served = body.get("result") if isinstance(body, dict) else None
        for profile in self._profiles.values():
            mismatch = revisions.revision_mismatch(
                profile, served.get(profile.name) if isinstance(served, dict) else None, self.url, self._calibration
            )
            if mismatch is not None:
                raise EngineError(mismatch)

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
        body = b'{"input":{"profile":%s,"track_record":%s,"now":%s%s,"manifests":[%s],"statement_facts":[%s]}}' % (
            json.dumps(profile).encode(),
            track_record_json,
            json.dumps(self.now).encode(),
            self._history_json,
            b",".join(manifests_json),
            b",".join(facts_json),
        )
        answer = self._call(DECISIONS_WHAT, lambda: self._http.post(DECISIONS_PATH, body))
        if not isinstance(answer, dict) or "result" not in answer:
            raise EngineError(f"policy returned no decision ({DECISIONS_WHAT} is undefined){self._untiered(body)}")
        result = consistency.require_count(answer["result"], len(ids))
        try:
            decisions = _DECISION_LIST.validate_python(result)
        except ValidationError as error:
            raise EngineError(f"policy returned a malformed decision: {error.errors()[0]['msg']}") from None
        consistency.require_consistent(
            self._profiles[profile], ids, decisions, [json.loads(m) for m in manifests_json], [json.loads(f) for f in facts_json]
        )
        for decision in decisions:
            decision.reasons = [self._reasons.setdefault((r.code, r.tier, r.message), r) for r in decision.reasons]
        return decisions

    def _untiered(self, body: bytes) -> str:
        """Why a batch got no decision, when a rule gave a reason a value that is not a tier: that rule, named."""
        answer = self._call(UNTIERED_WHAT, lambda: self._http.post(UNTIERED_PATH, body))
        found = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(found, list) or not found or not isinstance(found[0], dict):
            return ""
        reason = found[0].get("reason")
        tier = reason.get("tier") if isinstance(reason, dict) else None
        return (
            f": rule hitl.rules.{str(found[0].get('rule'))[:80]} gave a reason whose tier "
            f"{json.dumps(tier)[:80]} is not a tier ({', '.join(TIERS)})"
        )

    def trust_levels(self, profile: str, track_record: dict) -> dict[str, TrustStanding]:
        """Each agent's granted, supported and effective level, and the levels it may be promoted to now."""
        query = {"profile": profile, "track_record": track_record}
        body = self._query(TRUST_LEVELS_PATH, TRUST_LEVELS_WHAT, query)
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


def _opa_message(error: transport.HttpError) -> str:
    try:
        body = json.loads(error.body)
    except ValueError:
        return f"HTTP {error.status}"
    if not isinstance(body, dict):
        return f"HTTP {error.status}"
    errors = body.get("errors") or []
    detail = f" ({errors[0].get('message')})" if errors and isinstance(errors[0], dict) else ""
    return " ".join(f"{body.get('message', f'HTTP {error.status}')}{detail}".split())

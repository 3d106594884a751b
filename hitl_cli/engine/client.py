"""Asking an OPA server for decisions; every way that can go wrong becomes an EngineError."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import TypeAdapter, ValidationError

from hitl_cli import clock, settings
from hitl_cli.engine import connection, consistency, revisions
from hitl_cli.engine.binary import require_supported
from hitl_cli.engine.endpoint import OpaEndpoint
from hitl_cli.errors import EngineError, UsageError
from hitl_cli.models import Decision, Profile
from hitl_cli.models.common import TIERS
from hitl_cli.models.decision import Reason
from hitl_cli.models.trust import TrustStanding

if TYPE_CHECKING:
    from hitl_cli.policy_history import PolicyHistory

DECISION_WHAT = "data.hitl.main.decision"
DECISIONS_WHAT = "data.hitl.main.decisions"
UNTIERED_WHAT = "data.hitl.main.untiered"
UNDECLARED_WHAT = "data.hitl.main.undeclared"
TRUST_LEVELS_WHAT = "data.hitl.trust_levels.levels"
PROFILES_WHAT = "data.hitl.profiles"
OPA_VERSION_WHAT = "data.hitl.runtime.opa_version"
_DECISION_LIST = TypeAdapter(list[Decision])
_DECISION_FIELDS = set(Decision.model_fields)


@dataclass(frozen=True)
class RunInput:
    """What every decision request of one run carries beside its manifests: the profile, the track record, input.now
    (the one moment the run judges waivers' expiry at: hitl_cli.run_context) and input.history (what the state
    store says about the past, hitl_cli.policy_history; no `history` key when the run reads no store). Each run
    brings its own, so one client serves many runs at once (hitl_cli.api.Engine, hitl serve)."""

    profile: str
    now: str
    profile_and_now: bytes  # in JSON
    track_record: dict
    history: "PolicyHistory | None"

    @classmethod
    def of(
        cls, profile: str, track_record: dict, now: datetime | None = None, history: "PolicyHistory | None" = None
    ) -> "RunInput":
        """now: the system clock's when not given; history: None for none."""
        moment = (now or clock.now()).isoformat().replace("+00:00", "Z")
        profile_and_now = b'"profile":%s,"now":%s' % (json.dumps(profile).encode(), json.dumps(moment).encode())
        return cls(profile, moment, profile_and_now, track_record, history)

    @cached_property
    def _track_record_json(self) -> bytes:
        """All of the track record, for a batch (encoded once, when a run first sends one)."""
        return json.dumps(self.track_record).encode()

    def for_manifests(self, manifests: list[dict], fingerprint: Sequence[str]) -> bytes:
        """The run's input, in JSON, for a request deciding these manifests (as the policy reads them) under a
        profile with this history_novelty.fingerprint. OPA parses and converts every request's input, twice under
        hitl serve's access policy, so a request carries what its decisions read, not what grows with the fleet
        and the store: one manifest's request only its agent's part of the track record, what each decision of a
        batch is given (hitl.main), and of the history what concerns its manifests (PolicyHistory.about)."""
        record = (
            json.dumps(agent_record(self.track_record, manifests[0]["agent"]["id"])).encode()
            if len(manifests) == 1 else self._track_record_json
        )
        part = self.profile_and_now + b',"track_record":' + record
        if self.history is not None:
            part += b',"history":' + self.history.about(manifests, fingerprint)
        return part


def agent_record(track_record: dict, agent: str) -> dict:
    """The agent's part of input.track_record: its entry, and whether it was invalid (what hitl.main gives each
    decision of a batch)."""
    agents = track_record.get("agents", {})
    return {
        "agents": {agent: agents[agent]} if agent in agents else {},
        "invalid_agents": [agent] if agent in track_record.get("invalid_agents", ()) else [],
    }


def _batch_input(run_part: bytes, manifests_json: list[bytes], facts_json: list[bytes]) -> bytes:
    """The input of data.hitl.main.decisions: the run's part, the manifests and their statement facts, in JSON."""
    return b'{%s,"manifests":[%s],"statement_facts":[%s]}' % (run_part, b",".join(manifests_json), b",".join(facts_json))


class PolicyClient:
    """Decisions under the given profiles (the ones loaded in the engine), each checked before it is returned."""

    def __init__(
        self,
        endpoint: OpaEndpoint,
        profiles: list[Profile],
        calibration: Path | None = None,
        revisions: dict[str, str] | None = None,
    ):
        """revisions: the policy revision of each profile, computed before the OPA read the policies (a remote OPA's
        are learned from it: require_served_revisions)."""
        self.url = endpoint.url.rstrip("/")
        self._profiles = {profile.name: profile for profile in profiles}
        self._calibration = calibration
        self._revisions = dict(revisions or {})
        # one OpaClient per caller at a time: the client is shared by the threads of a long-lived Engine
        self._opa = connection.Clients(endpoint, settings.opa_request_timeout())
        self._endpoint = endpoint
        self._async_opa = None  # made by the first decision asked on an event loop (decide_encoded_async)
        self._async_loop = None  # the loop it was made on, the only one it may be used from

    def close(self) -> None:
        self._opa.close()

    async def aclose(self) -> None:
        """Close the asyncio client, on the event loop its decisions were asked on."""
        if self._async_opa is not None:
            opa, self._async_opa = self._async_opa, None
            await opa.close_connection()

    def _query(self, what: str, input_data: dict):
        with self._opa.lent() as opa:
            return connection.query(opa, self.url, what, input_data)

    def _query_encoded(self, what: str, input_json: bytes):
        with self._opa.lent() as opa:
            return connection.query_encoded(opa, self.url, what, input_json)

    def _read(self, what: str):
        with self._opa.lent() as opa:
            return connection.read(opa, self.url, what)

    def profile_names(self) -> set[str]:
        body = self._read(PROFILES_WHAT)
        profiles = body.get("result") if isinstance(body, dict) else None
        return set(profiles) if isinstance(profiles, dict) else set()

    def require_profile(self, name: str) -> None:
        names = self.profile_names()
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            raise EngineError(f"profile {name!r} is not loaded in OPA at {self.url} (loaded: {known})")

    def require_supported_opa(self) -> None:
        """A remote OPA must be at least the release hitl supports (it says so through hitl.runtime)."""
        body = self._read(OPA_VERSION_WHAT)
        require_supported(body.get("result") if isinstance(body, dict) else None, f"OPA at {self.url}")

    def require_served_revisions(self) -> None:
        """A remote OPA must serve, for every profile, the policy revision hitl computes locally (one request)."""
        body = self._read(revisions.REVISIONS_WHAT)
        served = body.get("result") if isinstance(body, dict) else None
        for profile in self._profiles.values():
            mismatch = revisions.revision_mismatch(
                profile, served.get(profile.name) if isinstance(served, dict) else None, self.url, self._calibration
            )
            if mismatch is not None:
                raise EngineError(mismatch)
            self._revisions[profile.name] = served[profile.name]

    def loaded_revision(self, profile: str) -> str:
        """The policy revision this engine decides the profile with. A long-lived caller records its requests under
        it, never under the revision the files have since: a policy edit or a recalibration made while it runs
        makes the requests it records stale, where they would otherwise pass for decided under the new policy."""
        if profile not in self._revisions:
            raise EngineError(f"the policy revision OPA at {self.url} decides profile {profile!r} with is not known")
        return self._revisions[profile]

    def decide_encoded(
        self, run: RunInput, ids: list[str], manifests_json: list[bytes], facts_json: list[bytes]
    ) -> list[Decision]:
        """One request for a batch of manifests already in JSON (their policy input), answered in the same order.

        facts_json[i] is what hitl derived from manifest i's statement (hitl_cli.statements): input.statement_facts.
        """
        what, input_json, manifests = self._decisions_input(run, manifests_json, facts_json)
        answer = self._query_encoded(what, input_json)
        if not _defined(answer):
            self._refuse_undefined(what, self._run_part(run, manifests), manifests_json, facts_json)
        return self._checked(run.profile, what, answer, ids, manifests, facts_json)

    async def decide_encoded_async(
        self, run: RunInput, ids: list[str], manifests_json: list[bytes], facts_json: list[bytes]
    ) -> list[Decision]:
        """decide_encoded, asked on the running event loop through opa-python-client's asyncio client (the first
        call makes it, for this loop; `aclose` closes it). Only the explanation of a batch with no decision, a
        fault, is asked from a worker thread."""
        import asyncio

        what, input_json, manifests = self._decisions_input(run, manifests_json, facts_json)
        if self._async_opa is None:
            self._async_opa = connection.connect_async(self._endpoint, settings.opa_request_timeout())
            self._async_loop = asyncio.get_running_loop()
        elif asyncio.get_running_loop() is not self._async_loop:
            raise UsageError("Engine.decide_async: this engine asks OPA from the event loop of its first call, not "
                             "this one (one loop per engine; decide() serves other threads)")
        answer = await connection.query_encoded_async(self._async_opa, self.url, what, input_json)
        if not _defined(answer):
            await asyncio.to_thread(
                self._refuse_undefined, what, self._run_part(run, manifests), manifests_json, facts_json
            )
        return self._checked(run.profile, what, answer, ids, manifests, facts_json)

    def _decisions_input(
        self, run: RunInput, manifests_json: list[bytes], facts_json: list[bytes]
    ) -> tuple[str, bytes, list[dict]]:
        """What to ask OPA, its input, and the manifests decoded once (for the checks of the answer too). One manifest
        (each hitl serve request) is asked as data.hitl.main.decision: the same decision, without the per-manifest
        `with input as` OPA evaluates a batch under, which costs it more."""
        if run.profile not in self._profiles:
            raise EngineError(f"no decision can be checked under profile {run.profile!r}: it was not loaded for this run")
        manifests = [json.loads(m) for m in manifests_json]
        run_part = self._run_part(run, manifests)
        if len(manifests) == 1:
            return DECISION_WHAT, b'{%s,"manifest":%s,"statement_facts":%s}' % (
                run_part, manifests_json[0], facts_json[0]
            ), manifests
        return DECISIONS_WHAT, _batch_input(run_part, manifests_json, facts_json), manifests

    def _run_part(self, run: RunInput, manifests: list[dict]) -> bytes:
        return run.for_manifests(manifests, self._profiles[run.profile].history_novelty.fingerprint)

    def _refuse_undefined(self, what: str, run_part: bytes, manifests_json: list[bytes], facts_json: list[bytes]) -> None:
        """The EngineError for manifests with no decision, naming the rule that caused it when one did (the rules that
        name it read a batch)."""
        input_data = json.loads(_batch_input(run_part, manifests_json, facts_json))
        why = self._untiered(input_data) or self._undeclared(input_data)
        raise EngineError(f"policy returned no decision ({what} is undefined){why}")

    def _checked(
        self, profile: str, what: str, answer: dict, ids: list[str], manifests: list[dict], facts_json: list[bytes]
    ) -> list[Decision]:
        """OPA's decisions for the batch, each checked against its manifest (hitl_cli.engine.consistency)."""
        if what == DECISION_WHAT:
            answer = {"result": [answer["result"]]}
        result = consistency.require_count(answer["result"], len(ids))
        try:
            decisions = _DECISION_LIST.validate_python(result)
        except ValidationError as error:
            raise EngineError(f"policy returned a malformed decision: {error.errors()[0]['msg']}") from None
        consistency.require_consistent(
            self._profiles[profile], ids, decisions, manifests, [json.loads(f) for f in facts_json]
        )
        # One Reason object per distinct reason of this answer: 100,000 decisions share a few hundred of them. Kept
        # for this answer only: what a long-lived client kept would grow with every distinct message an agent
        # causes, and one caller's answer would share objects with another's.
        distinct: dict[tuple[str, str, str], Reason] = {}
        for decision in decisions:
            decision.reasons = [distinct.setdefault((r.code, r.tier, r.message), r) for r in decision.reasons]
            # Every field of a decision is required, so the set of fields pydantic records as set is the same for
            # each: one set for all, where each decision had its own (half a decision's memory).
            object.__setattr__(decision, "__pydantic_fields_set__", _DECISION_FIELDS)
        return decisions

    def _untiered(self, input_data: dict) -> str:
        """Why a batch got no decision, when a rule gave a reason a value that is not a tier: that rule, named."""
        answer = self._query(UNTIERED_WHAT, input_data)
        found = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(found, list) or not found or not isinstance(found[0], dict):
            return ""
        reason = found[0].get("reason")
        tier = reason.get("tier") if isinstance(reason, dict) else None
        return (
            f": rule hitl.rules.{str(found[0].get('rule'))[:80]} gave a reason whose tier "
            f"{json.dumps(tier)[:80]} is not a tier ({', '.join(TIERS)})"
        )

    def _undeclared(self, input_data: dict) -> str:
        """Why a batch got no decision, when an organisation rule gave a reason code its METADATA does not declare
        (or a code of the profile's matrix): that rule and code, named."""
        answer = self._query(UNDECLARED_WHAT, input_data)
        found = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(found, list) or not found or not isinstance(found[0], dict):
            return ""
        return (
            f": rule hitl.rules.{str(found[0].get('rule'))[:80]} gave reason code {json.dumps(found[0].get('code'))[:80]}, "
            "which its METADATA custom.code does not declare (or which is a code of the profile's matrix)"
        )

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


def _defined(answer) -> bool:
    return isinstance(answer, dict) and "result" in answer

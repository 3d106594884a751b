"""Asking an OPA server for decisions; every way that can go wrong becomes an EngineError."""

from urllib.parse import urlsplit

import requests
from opa_client import OpaClient
from pydantic import ValidationError

from hitl_cli import settings
from hitl_cli.errors import EngineError, UsageError
from hitl_cli.models import Decision

DECISIONS_RULE = ("hitl.main", "decisions")
PROFILES_PATH = "hitl/profiles"


def _client_for(url: str) -> OpaClient:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--opa-url {url!r}: expected http(s)://HOST:PORT")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return OpaClient(
        host=parts.hostname, port=port, ssl=parts.scheme == "https", timeout=settings.opa_request_timeout(), retries=0
    )


class PolicyClient:
    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self._client = _client_for(self.url)

    def close(self) -> None:
        self._client.close_connection()

    def _call(self, what: str, call):
        try:
            return call()
        except requests.Timeout:
            raise EngineError(f"OPA at {self.url} did not answer {what} within {self._client.timeout:g}s") from None
        except requests.ConnectionError:
            raise EngineError(f"OPA at {self.url} is unreachable (asking for {what})") from None
        except requests.HTTPError as error:
            raise EngineError(f"OPA failed evaluating {what}: {_opa_message(error.response)}") from None
        except (requests.RequestException, ValueError) as error:
            raise EngineError(f"OPA at {self.url} gave an unusable answer for {what}: {error}") from None

    def profile_names(self) -> set[str]:
        body = self._call("the loaded profiles", lambda: self._client.get_data(PROFILES_PATH))
        profiles = body.get("result")
        return set(profiles) if isinstance(profiles, dict) else set()

    def require_profile(self, name: str) -> None:
        names = self.profile_names()
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            raise EngineError(f"profile {name!r} is not loaded in OPA at {self.url} (loaded: {known})")

    def decide(self, profile: str, track_record: dict, manifests: list[dict]) -> list[Decision]:
        decisions: list[Decision] = []
        size = settings.opa_batch_size()
        for start in range(0, len(manifests), size):
            batch = manifests[start : start + size]
            decisions.extend(self._decide_batch(profile, track_record, batch))
        return decisions

    def _decide_batch(self, profile: str, track_record: dict, manifests: list[dict]) -> list[Decision]:
        query = {"profile": profile, "track_record": track_record, "manifests": manifests}
        body = self._call("data.hitl.main.decisions", lambda: self._client.query_rule(query, *DECISIONS_RULE))
        if not isinstance(body, dict) or "result" not in body:
            raise EngineError("policy returned no decision (data.hitl.main.decisions is undefined)")
        result = body["result"]
        if not isinstance(result, list) or len(result) != len(manifests):
            raise EngineError(
                f"policy returned {len(result) if isinstance(result, list) else 'no list of'} decisions "
                f"for {len(manifests)} manifests"
            )
        try:
            decisions = [Decision.model_validate(item) for item in result]
        except ValidationError as error:
            raise EngineError(f"policy returned a malformed decision: {error.errors()[0]['msg']}") from None
        for decision, manifest in zip(decisions, manifests):
            if decision.id != manifest["metadata"]["id"]:
                raise EngineError(f"policy returned decisions out of order (got {decision.id!r})")
        return decisions


def _opa_message(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    errors = body.get("errors") or []
    detail = f" ({errors[0].get('message')})" if errors and isinstance(errors[0], dict) else ""
    return " ".join(f"{body.get('message', f'HTTP {response.status_code}')}{detail}".split())

"""The policy engine: OPA, started on loopback for one run or reached by URL.

The client, the server and the statement parser are imported when an engine is asked for: the workflow
commands that decide nothing (approve, queue, status) load this package through hitl_cli.policy_set and
must not pay for them (bench/RESULTS.md, signed approve).
"""

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from hitl_cli import policy_set, settings
from hitl_cli.calibration import storage as calibration_storage
from hitl_cli.engine.endpoint import OpaEndpoint
from hitl_cli.errors import UsageError
from hitl_cli.models import Profile

if TYPE_CHECKING:
    from hitl_cli.engine.client import PolicyClient


def policy_data(profiles: list[Profile], calibration: Path | None, policies: "policy_set.PolicySet | None" = None) -> dict:
    """What OPA is given beside the policies: the profiles under data.hitl.profiles[name] (each with every rule's
    settings, hitl_cli.policy_set), the settings each rule's schema requires under data.hitl.required_settings, the
    reason codes each organisation rule declares under data.hitl.org_rule_codes, and the calibration file's data
    (none when `calibration` is None or missing). policies: the configured ones by default."""
    policies = policies or policy_set.current()
    by_name: dict[str, dict] = {}
    for profile in profiles:
        if profile.name in by_name:
            raise UsageError(f"two profiles are named {profile.name!r}")
        by_name[profile.name] = policies.policy_data(profile)
    return {"hitl": {
        "profiles": by_name,
        # the reliability tables `hitl calibrate` wrote (hitl_cli.calibration.storage)
        "calibration": calibration_storage.load(calibration),
        "required_settings": policies.required_settings(),
        "org_rule_codes": policies.org_codes(),
    }}


def write_policy_data(
    profiles: list[Profile], folder: Path, calibration: Path | None, policies: "policy_set.PolicySet | None" = None
) -> Path:
    """policy_data as one OPA data file in the folder."""
    target = folder / "data.json"
    target.write_text(json.dumps(policy_data(profiles, calibration, policies)))
    return target


def policy_sources(data_file: Path, rego: Path | None = None, org: tuple[Path, ...] | None = None) -> list[Path]:
    """The policies (the checkout's rego/ unless another is given, and the organisation's rules,
    hitl_cli.policy_set) and the profiles' data file; a folder refused is an error before OPA starts."""
    return [*policy_set.current(rego, org).sources(), data_file]


# A long-lived OPA answers one decision at a time: collecting garbage less often (a larger heap, still tens of
# MB) takes most of the pauses out of its tail latency. GOGC in the environment overrides it.
SERVE_GOGC = "400"


def serve_environment() -> dict[str, str]:
    """The environment of `hitl serve`'s private OPA: hitl's own, without the tokens (the access policy holds
    only a SHA-256), and GOGC at SERVE_GOGC unless set."""
    secret = (settings.OPA_TOKEN, settings.SERVE_TOKEN)
    return {"GOGC": SERVE_GOGC, **{name: value for name, value in os.environ.items() if name not in secret}}


def served_sources(profiles: list[Profile], folder: Path, calibration: Path | None) -> list[Path]:
    """What a long-lived OPA loads to serve every given profile: the policies, the profiles' data, and the
    policy revision of each profile (hitl_cli.engine.revisions) for the clients that must check it."""
    from hitl_cli.engine.revisions import publish_revisions

    data = write_policy_data(profiles, folder, calibration)
    return [*policy_sources(data), publish_revisions(profiles, folder / "published", calibration)]


@contextmanager
def policy_engine(
    profiles: list[Profile],
    remote: OpaEndpoint | None,
    rego: Path | None = None,
    calibration: Path | None = None,
    org: tuple[Path, ...] | None = None,
    revisions: dict[str, str] | None = None,
) -> Iterator["PolicyClient"]:
    """A client for decisions under the given profiles; a local OPA lives exactly as long as the block.

    remote: a running OPA (--opa-url), believed only once it serves the expected policy revisions.
    rego: another policy folder for the local OPA (`hitl diff --candidate-rego`); the checkout's by default.
    org: other organisation folders for the local OPA (`hitl diff --candidate-policy`); the configured ones by default.
    calibration: the calibration file the engine loads (hitl_cli.calibration.storage); none by default.
    revisions: for a local OPA, the policy revision of each profile, computed before it starts (hitl_cli.api.Engine
    records requests under them: PolicyClient.loaded_revision)."""
    from hitl_cli.engine.client import PolicyClient
    from hitl_cli.engine.server import LocalOpaServer
    from hitl_cli.statements import load_parser_in_background

    load_parser_in_background()  # ready by the time decisions are asked for, at no cost to a single evaluate
    if remote is not None:
        client = PolicyClient(remote, profiles, calibration)
        try:
            for profile in profiles:
                client.require_profile(profile.name)
            client.require_supported_opa()
            client.require_served_revisions()
            yield client
        finally:
            client.close()
        return
    with tempfile.TemporaryDirectory(prefix="hitl-") as folder:
        data = write_policy_data(profiles, Path(folder), calibration, policy_set.current(rego, org))
        sources = policy_sources(data, rego, org)
        with LocalOpaServer(sources) as server:
            client = PolicyClient(server.endpoint, profiles, calibration, revisions)
            try:
                yield client
            finally:
                client.close()

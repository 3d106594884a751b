"""The policy engine: OPA, started on loopback for one run or reached by URL."""

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hitl_cli import paths
from hitl_cli.calibration.storage import policy_calibration_data
from hitl_cli.engine.client import PolicyClient
from hitl_cli.engine.server import LocalOpaServer
from hitl_cli.errors import EngineError, UsageError
from hitl_cli.models import Profile
from hitl_cli.statements import load_parser_in_background


def write_policy_data(profiles: list[Profile], folder: Path) -> Path:
    """The profiles as one OPA data file, under data.hitl.profiles[name], with the calibration data."""
    by_name: dict[str, dict] = {}
    for profile in profiles:
        if profile.name in by_name:
            raise UsageError(f"two profiles are named {profile.name!r}")
        by_name[profile.name] = profile.policy_data()
    target = folder / "data.json"
    # data.hitl.calibration: the reliability tables `hitl calibrate` wrote (hitl_cli.calibration.storage).
    calibration = policy_calibration_data()
    target.write_text(json.dumps({"hitl": {"profiles": by_name, "calibration": calibration}}))
    return target


def policy_sources(data_file: Path, rego: Path | None = None) -> list[Path]:
    """The policy folder (the checkout's rego/ unless another is given) and the profiles' data file."""
    rego = rego or paths.rego_dir()
    if not rego.is_dir():
        raise EngineError(f"policy folder {rego} does not exist")
    return [rego, data_file]


def opa_url_from(option: str | None) -> str | None:
    return option or os.environ.get("HITL_OPA_URL") or None


# A long-lived server answers one decision at a time: collecting garbage less often (a larger heap, still tens
# of MB) takes most of the pauses out of its tail latency. GOGC in the environment overrides it.
SERVE_GOGC = "400"


def serve(profiles: list[Profile], address: str, extra_args: list[str]) -> int:
    """Run OPA in the foreground with the policies and every given profile, until it is stopped."""
    with tempfile.TemporaryDirectory(prefix="hitl-serve-") as folder:
        sources = policy_sources(write_policy_data(profiles, Path(folder)))
        names = ", ".join(profile.name for profile in profiles)
        return serve_sources(sources, address, extra_args, f"profiles {names}")


def serve_sources(sources: list[Path], address: str, extra_args: list[str], what: str) -> int:
    """Run OPA in the foreground on the given sources (folders and files, or a bundle), until it is stopped."""
    environment = {"GOGC": SERVE_GOGC, **os.environ}
    server = LocalOpaServer(sources, address, extra_args, quiet=False, environment=environment)
    with server as url:
        print(f"hitl: OPA serving {what} on {url} (Ctrl-C stops it)", file=sys.stderr, flush=True)
        return server.wait()


@contextmanager
def policy_engine(profiles: list[Profile], opa_url: str | None, rego: Path | None = None) -> Iterator[PolicyClient]:
    """A client for decisions under the given profiles; a local OPA lives exactly as long as the block.

    rego: another policy folder for the local OPA (`hitl diff --candidate-rego`); the checkout's by default."""
    load_parser_in_background()  # ready by the time decisions are asked for, at no cost to a single evaluate
    if opa_url:
        client = PolicyClient(opa_url)
        try:
            for profile in profiles:
                client.require_profile(profile.name)
            yield client
        finally:
            client.close()
        return
    with tempfile.TemporaryDirectory(prefix="hitl-") as folder:
        sources = policy_sources(write_policy_data(profiles, Path(folder)), rego)
        with LocalOpaServer(sources) as url:
            client = PolicyClient(url)
            try:
                yield client
            finally:
                client.close()

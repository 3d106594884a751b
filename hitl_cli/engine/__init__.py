"""The policy engine: OPA, started on loopback for one run or reached by URL."""

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hitl_cli import paths
from hitl_cli.engine.client import PolicyClient
from hitl_cli.engine.server import LocalOpaServer
from hitl_cli.errors import EngineError, UsageError
from hitl_cli.models import Profile


def write_policy_data(profiles: list[Profile], folder: Path) -> Path:
    """The profiles as one OPA data file, under data.hitl.profiles[name]."""
    by_name: dict[str, dict] = {}
    for profile in profiles:
        if profile.name in by_name:
            raise UsageError(f"two profiles are named {profile.name!r}")
        by_name[profile.name] = profile.policy_data()
    target = folder / "data.json"
    target.write_text(json.dumps({"hitl": {"profiles": by_name}}))
    return target


def policy_sources(data_file: Path) -> list[Path]:
    rego = paths.rego_dir()
    if not rego.is_dir():
        raise EngineError(f"policy folder {rego} does not exist")
    return [rego, data_file]


def opa_url_from(option: str | None) -> str | None:
    return option or os.environ.get("HITL_OPA_URL") or None


def serve(profiles: list[Profile], address: str, extra_args: list[str]) -> int:
    """Run OPA in the foreground with the policies and every given profile, until it is stopped."""
    with tempfile.TemporaryDirectory(prefix="hitl-serve-") as folder:
        server = LocalOpaServer(policy_sources(write_policy_data(profiles, Path(folder))), address, extra_args, quiet=False)
        with server as url:
            names = ", ".join(profile.name for profile in profiles)
            print(f"hitl: OPA serving profiles {names} on {url} (Ctrl-C stops it)", file=sys.stderr, flush=True)
            return server.wait()


@contextmanager
def policy_engine(profiles: list[Profile], opa_url: str | None) -> Iterator[PolicyClient]:
    """A client for decisions under the given profiles; a local OPA lives exactly as long as the block."""
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
        sources = policy_sources(write_policy_data(profiles, Path(folder)))
        with LocalOpaServer(sources) as url:
            client = PolicyClient(url)
            try:
                yield client
            finally:
                client.close()

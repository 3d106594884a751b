"""What an approval is bound to: the manifest's content and the revision of the policies and profile.

A request is only valid while both still hash the same; any change to the manifest, to a policy
file in rego/ (tests excluded) or to the profile makes it stale.
"""

import hashlib
from pathlib import Path

from hitl_cli import paths
from hitl_cli.canonical import digest
from hitl_cli.errors import EngineError
from hitl_cli.models import ActionManifest, Profile


def manifest_sha256(manifest: ActionManifest) -> str:
    return digest(manifest.policy_input())


def _policy_files(rego: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every policy file, tests excluded."""
    if not rego.is_dir():
        raise EngineError(f"policy folder {rego} does not exist")
    return {
        path.relative_to(rego).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(rego.rglob("*.rego"))
        if not path.name.endswith("_test.rego")
    }


def policy_revision(profile: Profile) -> str:
    return digest({"rego": _policy_files(paths.rego_dir()), "profile": profile.policy_data()})

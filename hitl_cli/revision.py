"""What an approval is bound to: the manifest's content and the revision of the policies and profile.

A request is only valid while both still hash the same; any change to the manifest, to a file OPA loads from
the policy folder (policies and data alike, hitl_cli.policy_files), to the profile or to the calibration data
makes it stale.
"""

import hashlib
from pathlib import Path

from hitl_cli import paths
from hitl_cli.calibration import storage as calibration_storage
from hitl_cli.canonical import canonical_sha256
from hitl_cli.errors import EngineError
from hitl_cli.models import ActionManifest, Profile
from hitl_cli.policy_files import policy_files


def manifest_sha256(manifest: ActionManifest) -> str:
    return canonical_sha256(manifest.policy_input())


def _policy_files(rego: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file OPA loads from the policy folder."""
    loaded = policy_files(rego).loaded
    try:
        return {path.as_posix(): hashlib.sha256((rego / path).read_bytes()).hexdigest() for path in loaded}
    except OSError as error:
        raise EngineError(f"policy folder {rego}: {error.filename} cannot be read: {error.strerror}") from None


def policy_revision(profile: Profile, calibration: Path | None = None) -> str:
    """calibration: the calibration file the engine loads with this profile (none when None or missing)."""
    return canonical_sha256({
        "rego": _policy_files(paths.rego_dir()),
        "profile": profile.policy_data(),
        "calibration": calibration_storage.load(calibration),
    })

"""What an approval is bound to: the manifest's content and the revision of the policies and profile.

A request is only valid while both still hash the same; any change to the manifest, to a file OPA loads from
the policy folder (policies and data alike, hitl_cli.policy_files), to the profile or to the calibration data
makes it stale.
"""

import hashlib
from pathlib import Path

from hitl_cli import policy_set
from hitl_cli.calibration import storage as calibration_storage
from hitl_cli.canonical import canonical_sha256
from hitl_cli.errors import EngineError
from hitl_cli.models import ActionManifest, Profile
from hitl_cli.policy_files import PolicyFiles, policy_files


def manifest_sha256(manifest: ActionManifest) -> str:
    return canonical_sha256(manifest.policy_input())


def _policy_files(files: PolicyFiles) -> dict[str, str]:
    """Relative path -> SHA-256 of every file OPA loads from the policy folder (or, in an organisation folder,
    of every rule and settings file)."""
    try:
        return {path.as_posix(): hashlib.sha256((files.folder / path).read_bytes()).hexdigest() for path in files.loaded}
    except OSError as error:
        raise EngineError(f"policy folder {files.folder}: {error.filename} cannot be read: {error.strerror}") from None


def policy_revision(profile: Profile, calibration: Path | None = None) -> str:
    """calibration: the calibration file the engine loads with this profile (none when None or missing).

    The organisation folders (hitl_cli.policy_set) count too, in their order, when there are any."""
    policies = policy_set.current()
    revised = {
        "rego": _policy_files(policy_files(policies.shipped)),
        "profile": policies.policy_data(profile),
        "calibration": calibration_storage.load(calibration),
    }
    if policies.org:
        revised["organisation"] = [_policy_files(files) for files in policies.org]
    return canonical_sha256(revised)

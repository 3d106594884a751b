"""The policy revision a served OPA publishes, and hitl's refusal to believe one that serves another.

The only place hitl_cli.revision is read for this: hitl serve's private OPA and `hitl bundle build` publish, for each
profile they load, the revision hitl computes for the policies and that profile (data.hitl.meta.revisions);
a run against --opa-url asks for it once, before any decision, and compares it with its own computation.
"""

import json
import re
from pathlib import Path

from hitl_cli.models import Profile
from hitl_cli.revision import policy_revision

REVISIONS_PATH = "/v1/data/hitl/meta/revisions"
REVISIONS_WHAT = "data.hitl.meta.revisions"
_PRINTABLE_REVISION = re.compile(r"[0-9A-Za-z._:-]{1,128}")
SHOWN_CHARACTERS = 80


def expected_revision(profile: Profile, calibration: Path | None = None) -> str:
    """calibration: the calibration file the engine loads with the profile (hitl_cli.revision.policy_revision)."""
    return policy_revision(profile, calibration)


def publish_revisions(profiles: list[Profile], root: Path, calibration: Path | None = None) -> Path:
    """Write data.hitl.meta.revisions (profile name -> revision) as root/hitl/meta/data.json; returns root."""
    folder = root / "hitl" / "meta"
    folder.mkdir(parents=True, exist_ok=True)
    revisions = {profile.name: expected_revision(profile, calibration) for profile in profiles}
    (folder / "data.json").write_text(json.dumps({"revisions": revisions}))
    return root


def revision_mismatch(profile: Profile, served: object, url: str, calibration: Path | None = None) -> str | None:
    """Why the revision served for the profile cannot be believed, or None when it is the expected one."""
    expected = expected_revision(profile, calibration)
    if served == expected:
        return None
    if served is None:
        shown = f"none ({REVISIONS_WHAT}.{profile.name} is undefined)"
    elif isinstance(served, str) and _PRINTABLE_REVISION.fullmatch(served):
        shown = served
    else:  # whatever a hostile server sent, as inert JSON on one line
        shown = json.dumps(served)[:SHOWN_CHARACTERS]
    return (
        f"OPA at {url} serves policy revision {shown} for profile {profile.name!r}, "
        f"but this checkout's policies and profile are revision {expected}; refusing its answers"
    )

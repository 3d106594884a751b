"""What a request is judged against now: its profile as it reads today, and the current policy revision."""

from dataclasses import dataclass
from pathlib import Path

from hitl_cli.calibration import storage as calibration_storage
from hitl_cli.errors import HitlError
from hitl_cli.inputs import load_profile, profile_path
from hitl_cli.models import Profile
from hitl_cli.models.workflow import Request
from hitl_cli.revision import policy_revision


@dataclass(frozen=True)
class PolicyContext:
    """profile and revision are None when the profile can no longer be read; `problem` then says why.
    templates is the organisation's own template folder, when the profile names one."""

    profile: Profile | None
    revision: str | None
    problem: str | None = None
    templates: Path | None = None

    @classmethod
    def of(cls, profile: Profile, source: Path, state: Path) -> "PolicyContext":
        """state: the store the request lives in; its calibration is part of the revision."""
        folder = source.parent / profile.templates if profile.templates else None
        return cls(profile, policy_revision(profile, calibration_storage.beside(state)), templates=folder)


class PolicyContexts:
    """Each request's profile, read once per run: from the file that decided it, else by its name."""

    def __init__(self, state: Path, known: dict[tuple[str, str], PolicyContext] | None = None) -> None:
        """state: the store the requests live in; known: contexts already in hand, by (profile file, name)."""
        self._state = state
        self._by_source: dict[tuple[str, str], PolicyContext] = dict(known or {})

    def for_request(self, request: Request) -> PolicyContext:
        key = (request.profile_source, request.decision.profile)
        if key not in self._by_source:
            self._by_source[key] = _read(*key, self._state)
        return self._by_source[key]


def _read(source: str, name: str, state: Path) -> PolicyContext:
    try:
        path = Path(source) if Path(source).is_file() else profile_path(name)
        profile = load_profile(path)
    except HitlError as error:
        return PolicyContext(None, None, f"profile {name} ({source}) cannot be read: {str(error).splitlines()[0]}")
    try:
        return PolicyContext.of(profile, path, state)
    except HitlError as error:
        return PolicyContext(None, None, f"the policy revision cannot be computed: {str(error).splitlines()[0]}")

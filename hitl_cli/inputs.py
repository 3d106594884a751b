"""Loading and validating what a run is given: manifests, a profile, a track record."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hitl_cli.documents import Document, read_documents
from hitl_cli.errors import InvalidInput, Problem, UsageError
from hitl_cli.models import ActionManifest, AgentRecord, Profile, TrackRecord
from hitl_cli.validation import validate
from hitl_cli import paths


@dataclass(frozen=True, slots=True)
class LoadedManifest:
    """A valid manifest and where it came from.

    Held as its policy input in JSON: what OPA is sent, and a fraction of the model's memory, so a run of
    100,000 manifests stays within a few hundred MB. `manifest` rebuilds the model when someone asks for it.
    `statement` and `system` are what hitl_cli.statements parses when the manifest is sent to OPA.
    """

    source: str
    line: int
    id: str
    policy_json: bytes
    statement: str | None
    system: str | None

    @classmethod
    def of(cls, source: str, line: int, manifest: ActionManifest) -> "LoadedManifest":
        return cls(
            source, line, manifest.id, manifest.policy_input_json(), manifest.action.statement, manifest.target.system
        )

    @property
    def manifest(self) -> ActionManifest:
        return ActionManifest.model_validate_json(self.policy_json)


def manifests_by_file(files: list[Path]) -> Iterator[tuple[list[LoadedManifest], list[Problem]]]:
    """For each file in turn: its valid manifests, and a problem for each invalid one (which is left out).

    A generator, so that the first files can be decided while later ones are still being read.
    """
    first_seen: dict[str, str] = {}
    for path in files:
        loaded: list[LoadedManifest] = []
        documents, problems = read_documents(path)
        for document in documents:
            manifest, manifest_problems = _validated_manifest(document)
            problems.extend(manifest_problems)
            if manifest is None:
                continue
            if manifest.id in first_seen:
                problems.append(
                    Problem(document.source, "metadata.id", f"duplicate id {manifest.id!r} (first in {first_seen[manifest.id]})")
                )
                continue
            first_seen[manifest.id] = document.source
            loaded.append(LoadedManifest.of(document.source, document.line, manifest))
        yield loaded, problems


def _validated_manifest(document: Document) -> tuple[ActionManifest | None, list[Problem]]:
    if not isinstance(document.data, dict):
        return None, [Problem(document.source, "", "expected a mapping (an action manifest)")]
    if "apiVersion" not in document.data and "kind" not in document.data:
        return None, [Problem(document.source, "", "not an action manifest (no apiVersion or kind)")]
    return validate(ActionManifest, document.data, document.source)


def load_manifests(files: list[Path]) -> tuple[list[LoadedManifest], list[Problem]]:
    """Every valid manifest in input order, and a problem for each invalid one (which is left out)."""
    loaded: list[LoadedManifest] = []
    problems: list[Problem] = []
    for file_manifests, file_problems in manifests_by_file(files):
        loaded.extend(file_manifests)
        problems.extend(file_problems)
    return loaded, problems


def profile_path(name_or_path: str) -> Path:
    """A bare name is a file in the profiles folder; anything else is a path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml", ".json") or os.sep in name_or_path:
        if not candidate.is_file():
            raise UsageError(f"profile file {name_or_path} does not exist")
        return candidate
    for suffix in (".yaml", ".yml", ".json"):
        named = paths.profiles_dir() / f"{name_or_path}{suffix}"
        if named.is_file():
            return named
    known = ", ".join(sorted(p.stem for p in available_profile_files())) or "none"
    raise UsageError(f"no profile named {name_or_path!r} in {paths.profiles_dir()} (known: {known})")


def available_profile_files() -> list[Path]:
    folder = paths.profiles_dir()
    return sorted(p for p in folder.glob("*") if p.suffix in (".yaml", ".yml", ".json")) if folder.is_dir() else []


def load_profile(path: Path) -> Profile:
    """A profile that is not wholly valid is unusable: every problem is raised together."""
    documents, problems = read_documents(path, allow_aliases=True)
    if problems:
        raise InvalidInput(problems)
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        raise InvalidInput([Problem(str(path), "", "a profile file holds exactly one mapping")])
    profile, problems = validate(Profile, documents[0].data, str(path))
    if profile is None:
        raise InvalidInput(problems)
    consistency = [Problem(str(path), field, message) for field, message in profile.consistency_problems()]
    if consistency:
        raise InvalidInput(consistency)
    return profile


def load_track_record(path: Path | None) -> tuple[TrackRecord, list[Problem]]:
    """Agents with an invalid entry are reported and left out, so they are treated as new (the strictest level)."""
    if path is None:
        return TrackRecord(), []
    documents, problems = read_documents(path, allow_aliases=True)
    if problems:
        return TrackRecord(), problems
    data = documents[0].data if len(documents) == 1 else None
    source = str(path)
    if not isinstance(data, dict) or not isinstance(data.get("agents", {}), dict):
        return TrackRecord(), [Problem(source, "agents", "expected a mapping of agent id to record")]
    unknown = [Problem(source, key, "unknown field") for key in data if key != "agents"]
    agents: dict[str, AgentRecord] = {}
    for agent_id, entry in (data.get("agents") or {}).items():
        record, entry_problems = validate(TrackRecord, {"agents": {agent_id: entry}}, source)
        problems.extend(entry_problems)
        if record is not None:
            agents.update(record.agents)
    return TrackRecord(agents=agents), unknown + problems


def load_all_profiles() -> list[Profile]:
    """Every profile in the profiles folder; any invalid one stops the load with all their problems."""
    profiles, problems = [], []
    for path in available_profile_files():
        try:
            profiles.append(load_profile(path))
        except InvalidInput as error:
            problems.extend(error.problems)
    if problems:
        raise InvalidInput(problems)
    if not profiles:
        raise UsageError(f"no profiles in {paths.profiles_dir()}")
    return profiles

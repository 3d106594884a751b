"""Loading and validating what a run is given: manifests, a profile, a track record."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hitl_cli.documents import Document, read_documents, within_depth
from hitl_cli.errors import InvalidInput, Problem, UsageError
from hitl_cli.models import ActionManifest, AgentRecord, Profile, TrackRecord
from hitl_cli.validation import unpaired_surrogate_field, validate
from hitl_cli import clock, floor, paths, people, policy_set, profile_settings, settings


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


# What a caller may hand hitl as a manifest: a file of manifests, the manifest as a mapping, or the model.
ManifestSource = Path | dict | ActionManifest


def manifests_by_file(files: list[Path]) -> Iterator[tuple[list[LoadedManifest], list[Problem]]]:
    """For each file in turn: its valid manifests, and a problem for each invalid one (which is left out).

    A generator, so that the first files can be decided while later ones are still being read.
    """
    return manifests_by_source(files)


def manifests_by_source(sources: list[ManifestSource]) -> Iterator[tuple[list[LoadedManifest], list[Problem]]]:
    """manifests_by_file for files, mappings and models alike: a mapping or a model is validated as the
    document `manifests[i]` (its place in the list) and checked like any other (no duplicate id)."""
    first_seen: dict[str, str] = {}
    for index, source in enumerate(sources):
        documents, problems = _documents(source, f"manifests[{index}]")
        loaded: list[LoadedManifest] = []
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
        yield loaded, _bounded(problems, document_label(source, index))


def document_label(source: ManifestSource, index: int) -> str:
    return str(source) if isinstance(source, Path) else f"manifests[{index}]"


def _documents(source: ManifestSource, label: str) -> tuple[list[Document], list[Problem]]:
    if isinstance(source, Path):
        return read_documents(source)
    data = source.policy_input() if isinstance(source, ActionManifest) else source
    unpaired = unpaired_surrogate_field(data)
    if unpaired is not None:
        return [], [Problem(label, unpaired, "holds half of a UTF-16 surrogate pair, which is no text")]
    try:  # the limit of a file's nesting, for a manifest handed over in memory (the API, hitl serve)
        within_depth(data, settings.max_nesting_depth())
    except ValueError as error:
        return [], [Problem(label, "", str(error))]
    return [Document(label, 1, data)], []


def _bounded(problems: list[Problem], path: Path | str) -> list[Problem]:
    """The first problems of a file, and one more counting the rest: a file of ten thousand broken documents
    is not ten thousand lines of output."""
    limit = settings.max_problems_per_file()
    if len(problems) <= limit:
        return problems
    rest = len(problems) - limit
    return problems[:limit] + [Problem(str(path), "", f"... and {rest} more problems (HITL_MAX_PROBLEMS_PER_FILE)")]


def _validated_manifest(document: Document) -> tuple[ActionManifest | None, list[Problem]]:
    if not isinstance(document.data, dict):
        return None, [Problem(document.source, "", "expected a mapping (an action manifest)")]
    if "apiVersion" not in document.data and "kind" not in document.data:
        return None, [Problem(document.source, "", "not an action manifest (no apiVersion or kind)")]
    return validate(ActionManifest, document.data, document.source)


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


def load_profile(path: Path, enforce_floor: bool = True, policies: policy_set.PolicySet | None = None) -> Profile:
    """A profile that is not wholly valid is unusable: every problem is raised together.

    A profile below the floor (hitl_cli/floor.py: a waiver too broad, too long or covering what no waiver may,
    a shortened unwaivable or unoverridable list) is refused too, unless enforce_floor is off: `profile lint`
    reports those as findings instead. Its `rules` settings are checked against the rules of `policies` (the
    configured ones by default) and filled in with their defaults; a setting of hitl's own rules given there is
    moved to its documented field first (hitl_cli.profile_settings)."""
    documents, problems = read_documents(path, allow_aliases=True)
    if problems:
        raise InvalidInput(problems)
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        raise InvalidInput([Problem(str(path), "", "a profile file holds exactly one mapping")])
    policies = policies or policy_set.current()
    folded = profile_settings.fold(people.with_people(documents[0].data, path), policies.own_rules)
    profile, problems = validate(Profile, folded.data, str(path))
    problems += [Problem(str(path), field, message) for field, message in [*folded.problems, *Profile.consistency_problems(folded.data)]]
    if problems:
        raise InvalidInput(folded.located(problems))
    rules, problems = policies.settings(profile.model_dump(mode="json"), profile.rules)
    if problems:
        raise InvalidInput(folded.located([Problem(str(path), field, message) for field, message in problems]))
    profile = profile.model_copy(update={"rules": rules})
    below_floor = floor.findings(profile, str(path), clock.now()) if enforce_floor else []
    if below_floor:
        raise InvalidInput(below_floor)
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
    invalid: set[str] = set()
    for agent_id, entry in (data.get("agents") or {}).items():
        record, entry_problems = validate(TrackRecord, {"agents": {agent_id: entry}}, source)
        problems.extend(entry_problems)
        if record is not None:
            agents.update(record.agents)
        else:
            invalid.add(str(agent_id))
    return TrackRecord.with_invalid_entries(agents, invalid), unknown + problems


def load_profiles(sources: list[Path], enforce_floor: bool = True) -> tuple[list[tuple[Path, Profile]], list[Problem]]:
    """Each profile that validates, with its file; and every problem of those that do not (load_profile)."""
    loaded, problems = [], []
    for source in sources:
        try:
            loaded.append((source, load_profile(source, enforce_floor)))
        except InvalidInput as error:
            problems.extend(error.problems)
    return loaded, problems


def load_every_profile(sources: list[Path]) -> list[tuple[Path, Profile]]:
    """All the profiles or none: any invalid one stops the load, with the problems of every one."""
    loaded, problems = load_profiles(sources)
    if problems:
        raise InvalidInput(problems)
    return loaded


def load_all_profiles() -> list[Profile]:
    """Every profile in the profiles folder (load_every_profile)."""
    sources = available_profile_files()
    if not sources:
        raise UsageError(f"no profiles in {paths.profiles_dir()}")
    return [profile for _, profile in load_every_profile(sources)]

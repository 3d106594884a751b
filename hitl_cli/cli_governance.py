"""Governing the policies: `profile lint`, `diff` (impact analysis of a profile or policy change),
`bundle build` (signed OPA bundles for a fleet) and `docs` (the reference for compliance reviewers).

Each parses, calls the core (waivers, history, impact, bundles, docs), renders, and exits with the code its
docstring and the README give. `hitl serve --bundle` lives with `serve` in cli.py and calls bundles.serving_args.
"""

from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml

from hitl_cli import bundles, clock, floor, paths, policy_set, waivers
from hitl_cli.errors import ExitCode, UsageError
from hitl_cli.escaping import visible, visible_lines
from hitl_cli.inputs import available_profile_files, load_every_profile, load_profile, load_track_record, profile_path
from hitl_cli.models import Profile
from hitl_cli.output import emit, warn
from hitl_cli.reporters.impact import DIFF_FORMATS
from hitl_cli.calibration.storage import beside
from hitl_cli.cli_common import (
    CalibrationOption, PolicyOption, ProfileOption, StateOption, TrackRecordOption, choices, guarded, valid_profiles,
)
from hitl_cli.store.connection import state_path

DiffFormat = choices("DiffFormat", DIFF_FORMATS)
SigningAlg = choices("SigningAlg", bundles.SIGNING_ALGORITHMS)

ProfilesOption = Annotated[
    Optional[list[str]],
    typer.Option("--profile", "-p", help="A profile name in org_profiles/ or a path; repeat for several."),
]
AllProfilesOption = Annotated[bool, typer.Option("--all", help="Every profile in the profiles folder.")]
OutputFile = Annotated[Optional[Path], typer.Option("--output", "-o", dir_okay=False, help="Write it here.")]


def _selected_profiles(references: list[str] | None, every: bool, required: bool) -> list[tuple[Profile, Path]]:
    if references and every:
        raise UsageError("give --profile or --all, not both")
    if every:
        sources = available_profile_files()
        if not sources:
            raise UsageError(f"no profiles in {paths.profiles_dir()}")
    elif references:
        sources = [profile_path(reference) for reference in references]
    elif required:
        raise UsageError("name the profiles: --profile NAME_OR_PATH (repeatable) or --all")
    else:
        sources = []
    return [(profile, source) for source, profile in load_every_profile(sources)]


def profile_lint(
    profiles: Annotated[list[str], typer.Argument(help="Profile names or paths.")],
    policy: PolicyOption = None,
) -> None:
    """Report what is wrong with valid profiles: expired waivers, and anything below the gate's floor.

    Findings go to stdout as file: field.path: message: expired waivers, waivers naming an action type or
    environment the profile does not know, waivers that lower nothing; and what every other command refuses
    (hitl_cli/floor.py): a waiver glob that matches too much (`**`, a leading wildcard), a waiver of a destructive
    type in a protected environment, auto-approval for a high-risk type, an expiry beyond waiver_policy.max_days,
    an unwaivable or unoverridable list shorter than the floor.

    Exit 0: nothing to report; 1: at least one finding; 2: usage error; 4: a profile does not validate.
    Waivers are judged at the current time of the system clock.
    """
    now = clock.now()
    found = False
    valid, invalid = valid_profiles(profiles, enforce_floor=False)
    for path, loaded in valid:
        findings = floor.findings(loaded, str(path), now) + waivers.lint(loaded, str(path), now)
        emit(visible_lines("".join(f"{finding}\n" for finding in findings) or f"{path}: ok\n"), None)
        found = found or bool(findings)
    raise typer.Exit(ExitCode.INVALID_INPUT if invalid else ExitCode.NEEDS_HUMAN if found else ExitCode.OK)


def diff(
    profile: ProfileOption,
    candidate: Annotated[
        Optional[str], typer.Option("--candidate", help="The proposed profile (name or path); default: --profile.")
    ] = None,
    candidate_rego: Annotated[
        Optional[Path],
        typer.Option("--candidate-rego", exists=True, file_okay=False, help="Proposed policies; default: rego/."),
    ] = None,
    candidate_policy: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--candidate-policy", file_okay=False,
            help="Proposed organisation policy folders (repeatable), in place of --policy's and HITL_POLICY_PATH's.",
        ),
    ] = None,
    policy: PolicyOption = None,
    history: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--history", exists=True, help="Recorded manifests: folders, files or a state store; repeatable. "
            "Default: the state store (--state)."
        ),
    ] = None,
    track_record: TrackRecordOption = None,
    format: Annotated[DiffFormat, typer.Option("--format", "-f")] = "text",
    output: OutputFile = None,
    allow_loosening: Annotated[
        bool, typer.Option("--allow-loosening", help="Exit 0 even when a decision loosens.")
    ] = False,
    state: StateOption = None,
    change_request: Annotated[
        Optional[Path],
        typer.Option("--change-request", dir_okay=False, help="Also write the change as an action manifest to submit."),
    ] = None,
    proposed_by: Annotated[
        Optional[str], typer.Option("--proposed-by", help="With --change-request: who proposes the change.")
    ] = None,
    why: Annotated[Optional[str], typer.Option("--why", help="With --change-request: why the change is wanted.")] = None,
) -> None:
    """What a profile or policy change would change: every profile field and every recorded decision that differs.

    Compares the two profiles field by field, and re-evaluates the recorded manifests under the current and the
    candidate profile (and/or policies), listing every decision that changes, with counts per tier transition.
    Without history (no --history, no state store) only the profiles are compared.

    Exit 0: nothing loosens (or --allow-loosening); 1: a profile field or a decision loosens; 2: usage error;
    4: a profile, manifest or track record is invalid (the valid manifests are still compared);
    5: the policy engine failed on either side (nothing is reported). The highest applicable code wins.
    Without --track-record, a state store in the history supplies the track record it measured; otherwise
    every agent is new (suggestion mode).
    """
    from hitl_cli.change_request import change_manifest, check_proposer
    from hitl_cli.history import read_recorded_manifests
    from hitl_cli.impact import PolicySetup, diff as impact_diff

    if candidate is None and candidate_rego is None and candidate_policy is None:
        raise UsageError(
            "give --candidate PROFILE, --candidate-rego DIR and/or --candidate-policy DIR: there is nothing to compare"
        )
    if (change_request is None) != (proposed_by is None):
        raise UsageError("--change-request and --proposed-by go together")
    if proposed_by is not None:
        check_proposer(proposed_by)
    if not history:
        store = state_path(state)
        history = [store] if store.exists() else []
        if not history and candidate is None:
            raise UsageError(f"no history to re-evaluate: pass --history FOLDER_OR_STORE (no state store at {store})")
    current_path = profile_path(profile)
    current = PolicySetup(load_profile(current_path), current_path)
    candidate_path = profile_path(candidate) if candidate is not None else current_path
    proposed_org = tuple(candidate_policy) if candidate_policy is not None else None
    proposed_policies = policy_set.current(candidate_rego, proposed_org)
    proposed = PolicySetup(load_profile(candidate_path, policies=proposed_policies), candidate_path, candidate_rego, proposed_org)
    recorded = read_recorded_manifests(history)
    record, record_problems = load_track_record(track_record)
    if track_record is None and recorded.measured is not None:
        record = recorded.measured
    problems = record_problems + recorded.problems
    for problem in problems:
        warn(str(problem))
    calibration = beside(state_path(state))
    report = impact_diff(current, proposed, recorded.manifests, record, [str(path) for path in history], problems, calibration)
    emit(DIFF_FORMATS[DiffFormat(format).value](report), output)
    if change_request is not None:
        manifest = change_manifest(report, proposed_by, why)
        emit(yaml.safe_dump(manifest.model_dump(mode="json", exclude_none=True), sort_keys=False), change_request)
    raise typer.Exit(report.exit_code(allow_loosening))


def bundle_build(
    output: Annotated[Path, typer.Option("--output", "-o", dir_okay=False, help="The bundle file (.tar.gz).")],
    profile: ProfilesOption = None,
    all_profiles: AllProfilesOption = False,
    signing_key: Annotated[
        Optional[Path],
        typer.Option(
            "--signing-key", exists=True, dir_okay=False,
            help="Sign the bundle: a PEM private key (RS*, PS*, ES*) or a file holding the HMAC secret (HS*).",
        ),
    ] = None,
    signing_alg: Annotated[SigningAlg, typer.Option("--signing-alg", help="The signature algorithm.")] = "RS256",
    calibration: CalibrationOption = None,
    policy: PolicyOption = None,
) -> None:
    """Build an OPA bundle of the policies and profiles, signed when a key is given.

    `opa build` packs the policies (tests excluded) and the given profiles; `hitl serve --bundle` or an OPA
    fleet pulling it from a bundle server (deploy/opa-bundle-config.yaml) serves it.

    Exit 0: written; 2: usage error; 4: a profile is invalid; 5: opa build failed (its message is shown).
    """
    selected = _selected_profiles(profile, all_profiles, required=True)
    signing = bundles.Signing(signing_key, SigningAlg(signing_alg).value) if signing_key is not None else None
    built = bundles.build([loaded for loaded, _ in selected], output, signing, calibration)
    signed = f"signed {built.signed_with}" if built.signed_with else "unsigned"
    emit(f"{built.path}: bundle of profiles {', '.join(built.profiles)}, revision {built.revision}, {signed}\n", None)


def docs(
    profile: ProfilesOption = None,
    all_profiles: AllProfilesOption = False,
    output: OutputFile = None,
    policy: PolicyOption = None,
) -> None:
    """A Markdown reference of the policies and profiles, for compliance reviewers.

    Every policy rule from its METADATA, and the matrices, waivers and every threshold of the given profiles.

    Exit 0: written; 2: usage error; 4: a profile is invalid; 5: OPA could not read the policies.
    """
    from hitl_cli import docs as policy_docs  # reading the policies' documentation: this command's alone

    selected = _selected_profiles(profile, all_profiles, required=False)
    emit(policy_docs.render(paths.rego_dir(), selected, clock.now()), output)


def test(
    folders: Annotated[
        Optional[list[Path]],
        typer.Argument(file_okay=False, help="Organisation policy folders, beside HITL_POLICY_PATH's."),
    ] = None,
) -> None:
    """Run hitl's Rego tests and the organisation's together, and show each organisation file's coverage.

    Organisation tests use data.hitl.testing (docs/profiles.md): a fixture profile and manifest, and decide.

    Exit 0: every test passed; 1: a test failed; 2: usage error (a folder refused); 4: a profile is invalid;
    5: OPA could not load the policies or tests (the file and line are named).
    """
    from hitl_cli import rego_tests

    policy_set.choose(folders)
    run = rego_tests.run()
    lines = [f"FAIL {failure}" for failure in run.failed]
    lines += [f"coverage {percent:.1f}% {file}" for file, percent in run.coverage.items()]
    lines.append(f"{run.passed} passed, {len(run.failed)} failed")
    emit("".join(visible(line) + "\n" for line in lines), None)
    raise typer.Exit(ExitCode.NEEDS_HUMAN if run.failed else ExitCode.OK)


def init(
    folder: Annotated[Path, typer.Argument(file_okay=False, help="The new repository's folder (new or empty).")],
    name: Annotated[str, typer.Option("--name", help="The organisation profile's name.")] = "organisation",
) -> None:
    """Scaffold an organisation policy repository: an example rule with its schema, defaults and tests, a profile,
    a plan, a README, GitHub Actions and GitLab CI jobs and a pre-commit configuration.

    Exit 0: written; 2: the folder is not empty, or the name is not a profile name.
    """
    from hitl_cli import init_repository

    emit((visible(str(folder / written)) + "\n" for written in init_repository.scaffold(folder, name)), None)


def register(app: typer.Typer, profile_app: typer.Typer) -> None:
    app.command("diff")(guarded(diff))
    app.command("test")(guarded(test))
    app.command("init")(guarded(init))
    app.command("docs")(guarded(docs))
    bundle_app = typer.Typer(help="OPA bundles for a fleet of OPA servers.", no_args_is_help=True)
    bundle_app.command("build")(guarded(bundle_build))
    app.add_typer(bundle_app, name="bundle")
    profile_app.command("lint")(guarded(profile_lint))

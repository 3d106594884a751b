"""`hitl docs`: a Markdown reference for compliance reviewers.

The policy part comes from the policies' own METADATA, as OPA reads it (`opa inspect --annotations`): a
rule is documented by what its author wrote beside it, never by a second copy that could drift. The
profile part shows a profile's tier and risk matrices as tables, its waivers, and every other value it
holds, each under its dotted path - so a value added to the profile model is documented without a change here.
"""

import json
import subprocess
from collections.abc import Iterator
from datetime import datetime
from dataclasses import dataclass, field
from pathlib import Path

from hitl_cli import policy_set
from hitl_cli.engine.binary import find_opa, run_child
from hitl_cli.errors import EngineError
from hitl_cli.models import Profile
from hitl_cli.models.profile import Waiver

INSPECT_TIMEOUT_SECONDS = 60
# Shown in their own tables; every other profile value goes to the settings table.
_TABLED = ("apiVersion", "kind", "metadata", "action_types", "destructive_statements", "waivers")


@dataclass
class Package:
    path: str
    file: str
    title: str = ""
    description: str = ""
    custom: dict = field(default_factory=dict)
    rules: list[dict] = field(default_factory=list)


def _cell(value) -> str:
    """Plain text in a table cell: one line, backslashes and pipes escaped."""
    return " ".join(str(value).split()).replace("\\", "\\\\").replace("|", "\\|")


def _code(value) -> str:
    """A code span in a table cell: backslashes are literal there, only pipes need escaping."""
    return "`" + " ".join(str(value).split()).replace("|", "\\|") + "`"


def _codes(code) -> str:
    """A `custom.code` annotation: one code or a list of them."""
    if not code:
        return ""
    return ", ".join(_code(each) for each in (code if isinstance(code, list) else [code]))


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    return flat.split(". ", 1)[0].rstrip(".") + "." if flat else ""


def _paragraphs(text: str) -> str:
    """METADATA descriptions are wrapped by hand: rejoin each paragraph into one line."""
    return "\n\n".join(" ".join(block.split()) for block in text.strip().split("\n\n") if block.strip())


def _ref(path: list[dict]) -> str:
    return ".".join(str(part["value"]) for part in path)


def policy_packages(rego: Path) -> list[Package]:
    """Every policy package (tests excluded) of the folder and of the organisation folders (hitl_cli.policy_set)
    with its rules' annotations, from `opa inspect`; a folder refused is an error."""
    policies = policy_set.current(rego)
    packages: dict[str, Package] = {}
    for folder in [policies.shipped, *(files.folder for files in policies.org)]:
        _inspect_into(folder, packages)
    return sorted(packages.values(), key=_reading_order)


def _inspect_into(rego: Path, packages: dict[str, Package]) -> None:
    command = [str(find_opa()), "inspect", "--annotations", "--format", "json", str(rego)]
    try:
        done = run_child(command, INSPECT_TIMEOUT_SECONDS)
        inspected = json.loads(done.stdout) if done.returncode == 0 else None
    except subprocess.TimeoutExpired:
        raise EngineError(f"opa inspect did not finish within {INSPECT_TIMEOUT_SECONDS}s") from None
    except (OSError, ValueError) as error:
        raise EngineError(f"opa inspect gave no usable answer: {error}") from None
    if not isinstance(inspected, dict):
        raise EngineError(f"opa inspect failed: {' '.join((done.stderr or '').split()) or done.returncode}")
    for entry in inspected.get("annotations") or []:
        where = entry["location"]["file"]
        if where.endswith("_test.rego"):
            continue
        notes = entry["annotations"]
        ref = _ref(entry["path"])
        if notes.get("scope") in ("package", "subpackages"):
            package = packages.setdefault(ref, Package(ref, where))
            package.title = notes.get("title", "")
            package.description = notes.get("description", "")
            package.custom = notes.get("custom") or {}
        else:
            owner = ref.rsplit(".", 1)[0]
            packages.setdefault(owner, Package(owner, where)).rules.append({"name": ref.rsplit(".", 1)[1], **notes})


def _reading_order(package: Package) -> tuple[int, str]:
    """The entry point, then the rules, then the waiver step, then everything they build on."""
    for rank, prefix in enumerate(("data.hitl.main", "data.hitl.rules.", "data.hitl.waivers")):
        if package.path.startswith(prefix):
            return rank, package.path
    return 3, package.path


def _shown(source: Path) -> str:
    try:
        return source.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(source)


def _relative(file: str, rego: Path) -> str:
    try:
        return Path(file).resolve().relative_to(rego.resolve().parent).as_posix()
    except ValueError:
        return file


def _policy_section(packages: list[Package], rego: Path) -> Iterator[str]:
    yield "## Reason codes\n\n| rule | reason code | what it does |\n|---|---|---|\n"
    for package in packages:
        code = package.custom.get("code")
        if code:
            yield f"| {_cell(package.title)} | {_codes(code)} | {_cell(_first_sentence(package.description))} |\n"
    yield "\n## Policies\n"
    for package in packages:
        name = package.path.removeprefix("data.")
        yield f"\n### {package.title or name}\n\n`{name}` — `{_relative(package.file, rego)}`\n\n"
        if package.description:
            yield _paragraphs(package.description) + "\n\n"
        if package.rules:
            yield "| rule | title | description | reason code |\n|---|---|---|---|\n"
            for rule in package.rules:
                yield (
                    f"| {_code(rule['name'])} | {_cell(rule.get('title', ''))} | "
                    f"{_cell(rule.get('description', ''))} | {_codes((rule.get('custom') or {}).get('code'))} |\n"
                )


def _value(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, list):
        return ", ".join(_code(item) for item in value) if value else "(none)"
    return _code(json.dumps(value) if value is None or isinstance(value, bool) else value)


def _settings(data, prefix: str = "") -> Iterator[tuple[str, object]]:
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from _settings(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix, data


def _matrix(profile: Profile, matrix: str) -> Iterator[str]:
    environments = profile.environments
    yield "| action type | " + " | ".join(environments) + " |\n"
    yield "|---" * (len(environments) + 1) + "|\n"
    for name, policy in profile.action_types.items():
        cells = getattr(policy, matrix)
        yield f"| {_code(name)} | " + " | ".join(_cell(cells.get(env, "—")) for env in environments) + " |\n"


def _expiry(waiver: Waiver, now: datetime) -> str:
    expires = waiver.expires.isoformat()
    return f"**expired** {expires}: ignored in every decision" if waiver.expired(now) else expires


def _profile_section(profile: Profile, source: Path, now: datetime) -> Iterator[str]:
    yield f"\n## Profile `{profile.name}`\n\n{_paragraphs(profile.metadata.description)}\n\nSource: `{_shown(source)}`\n"
    yield "\n### Tier per action type and environment\n\nFor a fully trusted agent; every other rule can only raise it.\n\n"
    yield from _matrix(profile, "tiers")
    yield "\n### Risk class per action type and environment\n\n"
    yield from _matrix(profile, "risk")
    yield "\n### Action type classes\n\n| action type | read-only | post-hoc review class |\n|---|---|---|\n"
    for name, policy in profile.action_types.items():
        yield f"| {_code(name)} | {'yes' if policy.read_only else 'no'} | {'yes' if policy.post_hoc_review else 'no'} |\n"
    yield "\n### Destructive statements\n\n| pattern (RE2) | treated as |\n|---|---|\n"
    for rule in profile.destructive_statements:
        yield f"| {_code(rule.pattern)} | {_code(rule.treated_as)} |\n"
    yield "\n### Waivers\n\n"
    if profile.waivers:
        yield "| id | agent | action type | resource | environment | lowers to | approved by | expires | reason |\n"
        yield "|---|---|---|---|---|---|---|---|---|\n"
        for w in profile.waivers:
            yield (
                f"| {_code(w.id)} | {_code(w.agent)} | {_code(w.action_type)} | {_code(w.resource)} | "
                f"{_cell(w.environment or 'any')} | {w.lower_to} | {_cell(w.approved_by)} | "
                f"{_expiry(w, now)} | {_cell(w.reason)} |\n"
            )
    else:
        yield "None.\n"
    yield "\n### Thresholds and settings\n\n| setting | value |\n|---|---|\n"
    data = profile.policy_data()
    for key in _TABLED:
        data.pop(key, None)
    for path, value in _settings(data):
        yield f"| `{path}` | {_value(value)} |\n"


def render(rego: Path, profiles: list[tuple[Profile, Path]], now: datetime) -> str:
    """now: the moment waivers are judged at, as a decision would."""
    packages = policy_packages(rego)
    parts = [
        "# hitl policy reference\n\n",
        "Generated by `hitl docs` from the METADATA of the policies in "
        f"`{rego.name}/` (as `opa inspect` reads it)"
        + (" and from the profiles below" if profiles else "")
        + ". Each rule contributes reasons `{code, tier, message}`; the decision's tier is the strictest reason's, "
        "after the waiver step.\n\n",
    ]
    parts.extend(_policy_section(packages, rego))
    for profile, source in profiles:
        parts.extend(_profile_section(profile, source, now))
    return "".join(parts)

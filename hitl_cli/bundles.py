"""OPA bundles for a fleet: `hitl bundle build` and `hitl serve --bundle`.

A bundle holds every file a local run loads from the policy folder (hitl_cli.policy_files: the policies, tests
excluded, and the data files, merged at their folder's path as OPA merges them) and the profiles' and calibration
data exactly as a local run loads them (`engine.write_policy_data`, under data.hitl).
The bundle owns the `hitl` root, and its revision is a digest of its content, so two builds of the same
policies and profiles have the same revision and replicas can be compared by it. With a signing key,
`opa build` signs it (.signatures.json); OPA refuses to activate a signed bundle whose files do not match
their signed digests, or whose signature does not verify with the key it was given. It also publishes,
under data.hitl.meta.revisions, the policy revision of each profile, which an --opa-url run checks before
it believes any answer (hitl_cli.engine.revisions).
"""

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from hitl_cli import __version__, engine, paths, policy_set
from hitl_cli.engine.binary import find_opa, run_child
from hitl_cli.engine.revisions import publish_revisions
from hitl_cli.errors import EngineError, UsageError
from hitl_cli.models import Profile
from hitl_cli.output import replaced_atomically
from hitl_cli.policy_files import policy_files

SIGNING_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512",
)
BUNDLE_ROOT = "hitl"
ORG_FOLDER = "organisation"  # where a bundle carries the organisation's rules; their packages are under hitl.rules
BUILD_TIMEOUT_SECONDS = 120
BUNDLE_FILE_MODE = 0o644  # readable by the bundle server that publishes it


@dataclass(frozen=True)
class Signing:
    key: Path  # a PEM private key (RS*, PS*, ES*), or a file holding the shared secret (HS*)
    algorithm: str


@dataclass(frozen=True)
class BuiltBundle:
    path: Path
    revision: str
    profiles: list[str]
    signed_with: str | None


def _stage_policies(rego: Path, stage: Path, data_file: Path) -> None:
    """Copy the policies; merge each data file into the stage's one data file at the path OPA loads it at."""
    found = policy_files(rego)
    for relative in found.policies:
        target = stage / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(rego / relative, target)
    data = json.loads(data_file.read_text())
    for relative in found.data:
        at = data
        for part in relative.parent.parts:
            at = at.setdefault(part, {})
            if not isinstance(at, dict):
                raise EngineError(f"policy folder {rego}: {relative} conflicts with other data at {part}")
        _merge(at, _read_data(rego / relative), f"policy folder {rego}: {relative}")
    data_file.write_text(json.dumps(data))


def _stage_org_rules(stage: Path) -> None:
    """Copy each organisation rule (hitl_cli.policy_set) to `organisation/<n>/`, n its folder's place in the order;
    its settings are already in the profiles' data."""
    for number, files in enumerate(policy_set.current().org, start=1):
        for relative in files.policies:
            target = stage / ORG_FOLDER / str(number) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(files.folder / relative, target)


def _read_data(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
        raise EngineError(f"data file {path} cannot be read: {' '.join(str(error).split())}") from None


def _merge(into: dict, data, where: str) -> None:
    """OPA's merge of data files: objects merge key by key; any other value given twice is a conflict."""
    if not isinstance(data, dict):
        raise EngineError(f"{where}: data files must hold an object")
    for key, value in data.items():
        if isinstance(into.get(key), dict) and isinstance(value, dict):
            _merge(into[key], value, where)
        elif key in into:
            raise EngineError(f"{where}: {key} is already set by other data (OPA refuses the merge too)")
        else:
            into[key] = value


def _revision(stage: Path) -> str:
    """SHA-256 over every staged file's path and content: the same policies and profiles, the same revision."""
    content = hashlib.sha256()
    for path in sorted(p for p in stage.rglob("*") if p.is_file()):
        content.update(path.relative_to(stage).as_posix().encode() + b"\0")
        content.update(hashlib.sha256(path.read_bytes()).digest())
    return content.hexdigest()


def _opa_build(stage: Path, output: Path, signing: Signing | None) -> None:
    command = [str(find_opa()), "build", "--bundle", ".", "--output", str(output)]
    if signing is not None:
        command += ["--signing-key", str(signing.key.resolve()), "--signing-alg", signing.algorithm]
    try:
        done = run_child(command, BUILD_TIMEOUT_SECONDS, cwd=stage)
    except subprocess.TimeoutExpired:
        raise EngineError(f"opa build did not finish within {BUILD_TIMEOUT_SECONDS}s") from None
    except OSError as error:
        raise EngineError(f"opa build could not run: {error.strerror}") from None
    if done.returncode != 0:
        message = " ".join((done.stderr or done.stdout).split()) or f"exit code {done.returncode}"
        raise EngineError(f"opa build failed: {message}")


def build(
    profiles: list[Profile], output: Path, signing: Signing | None = None, calibration: Path | None = None
) -> BuiltBundle:
    """Write the bundle to output, replaced atomically (a failed build leaves no file behind); calibration: the
    calibration file it carries as data.hitl.calibration (none by default)."""
    if signing is not None:
        if signing.algorithm not in SIGNING_ALGORITHMS:
            raise UsageError(f"--signing-alg {signing.algorithm}: expected one of {', '.join(SIGNING_ALGORITHMS)}")
        if not signing.key.is_file():
            raise UsageError(f"--signing-key {signing.key}: no such file")
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"--output {output}: folder {folder} does not exist")
    with tempfile.TemporaryDirectory(prefix="hitl-bundle-") as scratch:
        stage = Path(scratch) / "bundle"
        stage.mkdir()
        _stage_policies(paths.rego_dir(), stage, engine.write_policy_data(profiles, stage, calibration))
        _stage_org_rules(stage)
        publish_revisions(profiles, stage, calibration)
        revision = _revision(stage)
        names = [profile.name for profile in profiles]
        manifest = {"revision": revision, "roots": [BUNDLE_ROOT], "metadata": {"hitl": {"version": __version__, "profiles": names}}}
        (stage / ".manifest").write_text(json.dumps(manifest))
        with replaced_atomically(output, BUNDLE_FILE_MODE) as temporary:
            _opa_build(stage, temporary.resolve(), signing)
    return BuiltBundle(output, revision, names, signing.algorithm if signing else None)


def _verification_args(verification_key: str | None, algorithm: str) -> list[str]:
    if algorithm not in SIGNING_ALGORITHMS:
        raise UsageError(f"--signing-alg {algorithm}: expected one of {', '.join(SIGNING_ALGORITHMS)}")
    return ["--verification-key", verification_key, "--signing-alg", algorithm] if verification_key else []


def verify(bundle: Path, verification_key: str | None, algorithm: str) -> None:
    """Load the bundle as `opa run` would, without serving it: a signature that does not verify, a file
    changed since signing or a signed bundle without a key raises EngineError with OPA's reason."""
    command = [str(find_opa()), "run", "--bundle", *_verification_args(verification_key, algorithm), str(bundle)]
    try:
        done = run_child(command, BUILD_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise EngineError(f"OPA did not finish loading bundle {bundle} within {BUILD_TIMEOUT_SECONDS}s") from None
    except OSError as error:
        raise EngineError(f"OPA could not run: {error.strerror}") from None
    if done.returncode != 0:
        reason = " ".join((done.stdout + done.stderr).split()).removeprefix("error: ")
        raise EngineError(f"OPA refused bundle {bundle}: {reason or f'exit code {done.returncode}'}")


def _serving_config(bundle: Path, verification_key: str | None, algorithm: str) -> dict:
    """OPA's configuration activating the bundle file through its bundle plugin, verified with the key.

    Not `opa run --bundle`: that makes every path a bundle, and a verification key then demands a signature
    of hitl serve's own access policy too (hitl_cli.engine.access), which is loaded beside it unsigned."""
    source = {"resource": bundle.resolve().as_uri()}
    if not verification_key:
        return {"bundles": {BUNDLE_ROOT: source}}
    key_file = Path(verification_key)
    key = key_file.read_text() if key_file.is_file() else verification_key  # a PEM file, or an HMAC secret
    return {
        "bundles": {BUNDLE_ROOT: {**source, "signing": {"keyid": BUNDLE_ROOT}}},
        "keys": {BUNDLE_ROOT: {"key": key, "algorithm": algorithm}},
    }


def serving_args(bundle: Path, verification_key: str | None, algorithm: str, folder: Path) -> list[str]:
    """`opa run` arguments serving one bundle file through OPA's bundle plugin (its configuration written in
    `folder`), once the bundle loads (and verifies, when a key is given): an EngineError otherwise."""
    verify(bundle, verification_key, algorithm)
    config = folder / "config.json"  # JSON is YAML, which OPA reads
    config.write_text(json.dumps(_serving_config(bundle, verification_key, algorithm)))
    return ["--config-file", str(config)]

"""Who may talk to hitl: the OPA it starts, and `hitl serve`.

Every OPA hitl starts (a run's own, and the one behind `hitl serve`) listens on loopback with
`--authorization=basic` and the policy in hitl_cli/engine/authz: no policy or data write is ever served, and
with a token (hitl serve gives its OPA a random one) no request without it. `hitl serve` itself may require a
token of every request (HITL_SERVE_TOKEN, HITL_OPA_TOKEN or --token-file), may serve https, and listens on
loopback unless --addr names another address, which needs a token.
"""

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from hitl_cli import settings
from hitl_cli.engine.endpoint import is_loopback, read_token_file, valid_token
from hitl_cli.errors import UsageError

AUTHZ_POLICY = Path(__file__).resolve().parent / "authz" / "authz.rego"
# The access policy's own root: with --bundle, OPA loads it as a second bundle beside hitl's.
AUTHZ_ROOT = "system"


OPA_ACCESS_ARGS = ("--authorization=basic", "--authentication=token")


def write_opa_access_policy(folder: Path, token: str | None) -> Path:
    """The authorization policy and its data (the token's SHA-256, null for none), as a folder OPA loads."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(AUTHZ_POLICY, folder / AUTHZ_POLICY.name)
    data = folder / AUTHZ_ROOT / "hitl_serve"
    data.mkdir(parents=True, exist_ok=True)
    token_sha256 = hashlib.sha256(token.encode()).hexdigest() if token else None
    (data / "data.json").write_text(json.dumps({"token_sha256": token_sha256}))
    (folder / ".manifest").write_text(json.dumps({"roots": [AUTHZ_ROOT]}))
    return folder


@dataclass(frozen=True)
class ServeAccess:
    """How clients reach `hitl serve`: the token they must send (None: none), and its certificate for https."""

    token: str | None = None
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None

    @property
    def https(self) -> bool:
        return self.tls_cert_file is not None


def serve_token(token_file: Path | None) -> str | None:
    """hitl serve's token: from the file, HITL_SERVE_TOKEN or HITL_OPA_TOKEN; two ways at once are refused."""
    environment = ((settings.SERVE_TOKEN, settings.serve_token()), (settings.OPA_TOKEN, settings.opa_token()))
    given = [(name, value) for name, value in environment if value]
    if token_file is not None:
        given.append(("--token-file", read_token_file(token_file, "--token-file")))
    if len(given) > 1:
        raise UsageError(f"{' and '.join(name for name, _ in given)} are all set: give hitl serve's token one way")
    return valid_token(given[0][1], given[0][0]) if given else None


def listening_host(address: str) -> str:
    host, separator, port = address.rpartition(":")
    if not separator or not port.isdigit():
        raise UsageError(f"--addr {address!r}: expected HOST:PORT")
    return host.strip("[]")


def serve_access(
    address: str, token_file: Path | None, tls_cert_file: Path | None, tls_private_key_file: Path | None
) -> ServeAccess:
    """Validated access settings for `hitl serve` on the address."""
    token = serve_token(token_file)
    if (tls_cert_file is None) != (tls_private_key_file is None):
        raise UsageError("--tls-cert-file and --tls-private-key-file go together")
    for option, path in (("--tls-cert-file", tls_cert_file), ("--tls-private-key-file", tls_private_key_file)):
        if path is not None and not path.is_file():
            raise UsageError(f"{option} {path}: no such file")
    host = listening_host(address)
    if not is_loopback(host) and token is None:
        raise UsageError(
            f"--addr {address}: refusing to serve beyond loopback without a token (set HITL_SERVE_TOKEN or --token-file)"
        )
    return ServeAccess(token, tls_cert_file, tls_private_key_file)

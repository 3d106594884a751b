"""Who may talk to an OPA hitl starts, and how: OPA's authorization policy, its bearer token, TLS, the address.

Every OPA hitl starts (a run's own, and `hitl serve`'s) runs with `--authorization=basic` and the policy in
hitl_cli/engine/authz: no policy or data write is ever served. `hitl serve` may also require a token of every
request (HITL_OPA_TOKEN or --token-file); it listens on loopback unless --addr names another address, which
needs a token.
"""

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from hitl_cli.engine.endpoint import configured_token, is_loopback
from hitl_cli.errors import UsageError

AUTHZ_POLICY = Path(__file__).resolve().parent / "authz" / "authz.rego"
# The access policy's own root: with --bundle, OPA loads it as a second bundle beside hitl's.
AUTHZ_ROOT = "system"


@dataclass(frozen=True)
class ServeAccess:
    token: str | None = None
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None

    @property
    def https(self) -> bool:
        return self.tls_cert_file is not None

    def opa_args(self) -> list[str]:
        """`opa run` arguments for this access: authorization, token authentication, TLS."""
        args = ["--authorization=basic", "--authentication=token"]
        if self.https:
            args += ["--tls-cert-file", str(self.tls_cert_file), "--tls-private-key-file", str(self.tls_private_key_file)]
        return args

    def write_policy(self, folder: Path) -> Path:
        """The authorization policy and its data (the token's SHA-256), as a folder OPA loads; returns it."""
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(AUTHZ_POLICY, folder / AUTHZ_POLICY.name)
        data = folder / AUTHZ_ROOT / "hitl_serve"
        data.mkdir(parents=True, exist_ok=True)
        token_sha256 = hashlib.sha256(self.token.encode()).hexdigest() if self.token else None
        (data / "data.json").write_text(json.dumps({"token_sha256": token_sha256}))
        (folder / ".manifest").write_text(json.dumps({"roots": [AUTHZ_ROOT]}))
        return folder


def listening_host(address: str) -> str:
    host, separator, port = address.rpartition(":")
    if not separator or not port.isdigit():
        raise UsageError(f"--addr {address!r}: expected HOST:PORT")
    return host.strip("[]")


def serve_access(
    address: str, token_file: Path | None, tls_cert_file: Path | None, tls_private_key_file: Path | None
) -> ServeAccess:
    """Validated access settings for `hitl serve` on the address."""
    token = configured_token(token_file, "--token-file")
    if (tls_cert_file is None) != (tls_private_key_file is None):
        raise UsageError("--tls-cert-file and --tls-private-key-file go together")
    for option, path in (("--tls-cert-file", tls_cert_file), ("--tls-private-key-file", tls_private_key_file)):
        if path is not None and not path.is_file():
            raise UsageError(f"{option} {path}: no such file")
    host = listening_host(address)
    if not is_loopback(host) and token is None:
        raise UsageError(
            f"--addr {address}: refusing to serve beyond loopback without a token (set HITL_OPA_TOKEN or --token-file)"
        )
    return ServeAccess(token, tls_cert_file, tls_private_key_file)

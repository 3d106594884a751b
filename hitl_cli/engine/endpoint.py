"""Where a remote OPA is and how hitl may talk to it: URL, bearer token, certificate authority.

What hitl_cli.engine.connection hands opa-python-client: host, port, token, what https verifies. The token never comes from the
command line, where `ps` would show it: HITL_OPA_TOKEN, or a file named by --opa-token-file. An https URL
verifies the server's certificate (against --opa-ca-file when given, certifi's authorities otherwise);
a token is refused for a plain http URL to any host but loopback, where it would travel in clear.
"""

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from hitl_cli import settings
from hitl_cli.errors import UsageError

MAX_TOKEN_BYTES = 4096


def split_url(url: str) -> tuple[str, int, bool]:
    """(host, port, https) of an http(s)://HOST[:PORT] URL; anything else (a path, say) is a usage error."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/") or parts.query:
        raise UsageError(f"--opa-url {url!r}: expected http(s)://HOST:PORT")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UsageError(f"--opa-url {url!r}: the port is not a number from 0 to 65535") from None
    return parts.hostname, port, parts.scheme == "https"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def valid_token(token: str, where: str) -> str:
    """The token as sent in `Authorization: Bearer`; a character that could end or split the header is refused."""
    if not token:
        raise UsageError(f"{where}: the token is empty")
    if len(token.encode()) > MAX_TOKEN_BYTES or not all("!" <= char <= "~" for char in token):
        raise UsageError(f"{where}: a token is up to {MAX_TOKEN_BYTES} printable ASCII characters without spaces")
    return token


def read_token_file(path: Path, option: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{option} {path}: cannot read it ({getattr(error, 'strerror', None) or error})") from None
    return valid_token(text.strip(), f"{option} {path}")


def configured_token(token_file: Path | None, option: str = "--opa-token-file") -> str | None:
    """The bearer token from HITL_OPA_TOKEN or the token file; both at once is ambiguous and refused."""
    from_environment = settings.opa_token()
    if from_environment and token_file is not None:
        raise UsageError(f"{settings.OPA_TOKEN} and {option} are both set: give the token one way")
    if token_file is not None:
        return read_token_file(token_file, option)
    return valid_token(from_environment, settings.OPA_TOKEN) if from_environment else None


@dataclass(frozen=True)
class OpaEndpoint:
    url: str
    token: str | None = None
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        host, _, https = split_url(self.url)
        if self.ca_file is not None:
            if not https:
                raise UsageError(f"--opa-ca-file {self.ca_file}: the OPA URL {self.url} is not https")
            if not self.ca_file.is_file():
                raise UsageError(f"--opa-ca-file {self.ca_file}: no such file")
        if self.token is not None and not https and not is_loopback(host):
            raise UsageError(
                f"--opa-url {self.url}: refusing to send the OPA token over plain http to {host} (use https)"
            )

    @property
    def client_host(self) -> str:
        """The host as it goes into a URL: an IPv6 address in brackets."""
        host = split_url(self.url)[0]
        return f"[{host}]" if ":" in host else host

    @property
    def port(self) -> int:
        return split_url(self.url)[1]

    @property
    def compressed(self) -> bool:
        """Whether OPA's answers may come gzipped: not from loopback, where compressing them is only CPU spent."""
        return not is_loopback(split_url(self.url)[0])

    @property
    def verify(self) -> bool | str:
        """False for http; for https, the CA file that verifies the server's certificate, or True: requests'
        own authorities (certifi), never a bundle an environment variable names (hitl_cli.engine.connection)."""
        if not split_url(self.url)[2]:
            return False
        return str(self.ca_file) if self.ca_file is not None else True


def remote_endpoint(url: str | None, token_file: Path | None = None, ca_file: Path | None = None) -> OpaEndpoint | None:
    """The remote OPA the options and environment name (HITL_OPA_URL, HITL_OPA_CA_FILE), or None: start one."""
    url = url or settings.opa_url()
    if url is None:
        if token_file is not None or ca_file is not None:
            raise UsageError("--opa-token-file and --opa-ca-file are for a remote OPA: give --opa-url too")
        return None
    ca_file = ca_file or settings.opa_ca_file()
    return OpaEndpoint(url, configured_token(token_file), ca_file)

"""JSON over HTTP to OPA's REST API, on the standard library alone.

A single decision must come back in well under half a second, interpreter start included: an HTTP
library that takes a fifth of that just to import is too slow, so this module is all hitl needs —
one kept-alive connection, a timeout for every answer, no retries (a request that failed is never
sent twice), and every failure as one of three exceptions the client turns into an EngineError.
"""

import http.client
import socket
import ssl
from urllib.parse import urlsplit

from hitl_cli.errors import UsageError

JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class Timeout(Exception):
    """No answer within the timeout."""


class Unreachable(Exception):
    """No connection, or it broke before a whole answer came back."""


class Untrusted(Exception):
    """The server's certificate did not verify."""


class HttpError(Exception):
    """OPA answered with an error status; `body` is what it said."""

    def __init__(self, status: int, body: bytes):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


def split_url(url: str) -> tuple[str, int, bool]:
    """(host, port, https) of an http(s)://HOST[:PORT] URL; anything else is a usage error."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--opa-url {url!r}: expected http(s)://HOST:PORT")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UsageError(f"--opa-url {url!r}: the port is not a number from 0 to 65535") from None
    return parts.hostname, port, parts.scheme == "https"


def _connection_to(endpoint, timeout: float) -> http.client.HTTPConnection:
    """A connection to an OpaEndpoint (hitl_cli.engine.endpoint): https verifies as the endpoint says."""
    host, port, https = split_url(endpoint.url)
    if https:
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=endpoint.ssl_context())
    return http.client.HTTPConnection(host, port, timeout=timeout)


class JsonHttp:
    def __init__(self, endpoint, timeout: float):
        self.endpoint = endpoint
        self.prefix = urlsplit(endpoint.url).path.rstrip("/")
        self.timeout = timeout
        self._headers = {**JSON_HEADERS, **endpoint.headers()}
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def get(self, path: str) -> bytes:
        return self._request("GET", path, None)

    def post(self, path: str, body: bytes) -> bytes:
        return self._request("POST", path, body)

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = _connection_to(self.endpoint, self.timeout)
        return self._connection

    def _request(self, method: str, path: str, body: bytes | None) -> bytes:
        connection = self._connect()
        try:
            connection.request(method, self.prefix + path, body=body, headers=self._headers)
            response = connection.getresponse()
            payload = response.read()
        except ssl.SSLCertVerificationError as error:
            self.close()
            raise Untrusted(error.verify_message or str(error)) from None
        except (socket.timeout, TimeoutError):
            self.close()
            raise Timeout() from None
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise Unreachable(str(error) or type(error).__name__) from None
        if response.will_close:
            self.close()
        if response.status >= 400:
            raise HttpError(response.status, payload)
        return payload


def healthy(endpoint, timeout: float) -> bool:
    """True when the OPA at the endpoint answers its health check with 200, its bundles (if any) activated."""
    connection = _connection_to(endpoint, timeout)
    try:
        connection.request("GET", "/health?bundles", headers=endpoint.headers())
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()

"""JSON over HTTP to OPA's REST API, on the standard library alone.

A single decision must come back in well under half a second, interpreter start included: an HTTP
library that takes a fifth of that just to import is too slow, so this module is all hitl needs —
one kept-alive connection, a timeout for every answer, no retries (a request that failed is never
sent twice), and every failure as one of three exceptions the client turns into an EngineError.
"""

import http.client
import socket
from urllib.parse import urlsplit

from hitl_cli.errors import UsageError

JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class Timeout(Exception):
    """No answer within the timeout."""


class Unreachable(Exception):
    """No connection, or it broke before a whole answer came back."""


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


class JsonHttp:
    def __init__(self, url: str, timeout: float):
        self.host, self.port, self.https = split_url(url)
        self.prefix = urlsplit(url).path.rstrip("/")
        self.timeout = timeout
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
            kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self._connection = kind(self.host, self.port, timeout=self.timeout)
        return self._connection

    def _request(self, method: str, path: str, body: bytes | None) -> bytes:
        connection = self._connect()
        try:
            connection.request(method, self.prefix + path, body=body, headers=JSON_HEADERS)
            response = connection.getresponse()
            payload = response.read()
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


def healthy(url: str, timeout: float) -> bool:
    """True when OPA at url answers its health check with 200."""
    host, port, https = split_url(url)
    kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
    connection = kind(host, port, timeout=timeout)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()

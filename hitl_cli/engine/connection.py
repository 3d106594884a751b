"""Every conversation with OPA goes through opa-python-client (`opa_client.OpaClient`); this module only sets it
up from an OpaEndpoint and turns whatever it raises into one EngineError line.

The client is set up with no retries (a request that failed is never sent twice) and hitl's timeout for every
answer. Importing it takes a fifth of a second (it pulls in requests and aiohttp): `import_in_background()`
starts that import in a thread while a local OPA starts, so a single `hitl evaluate` does not wait for both.
"""

import importlib
import threading
from typing import TYPE_CHECKING, Any

from hitl_cli.engine.endpoint import OpaEndpoint
from hitl_cli.errors import EngineError

if TYPE_CHECKING:
    from opa_client import OpaClient

_imported = threading.Event()
_import_lock = threading.Lock()
_import_started = False


def import_in_background() -> None:
    """Start importing opa_client in a daemon thread (once); `connect` waits for it."""
    global _import_started
    with _import_lock:
        if _import_started:
            return
        _import_started = True
    threading.Thread(target=_import, name="hitl-import-opa-client", daemon=True).start()


def _import() -> None:
    try:
        importlib.import_module("opa_client")
        importlib.import_module("requests")
    finally:
        _imported.set()


def connect(endpoint: OpaEndpoint, timeout: float) -> "OpaClient":
    """An OpaClient for the endpoint: its token as a bearer header, https verified against its CA file (or the
    certifi's), no retries, `timeout` seconds for every answer."""
    import_in_background()
    _imported.wait()
    return _client_class()(
        host=endpoint.client_host,
        port=endpoint.port,
        ssl=endpoint.verify,
        token=endpoint.token,
        retries=0,
        timeout=timeout,
    )


def _client_class() -> type:
    from opa_client import OpaClient

    class EnvironmentBlindClient(OpaClient):
        """OpaClient whose session ignores the environment (requests' trust_env): no proxy variable can route
        hitl's questions through another server, and no CA-bundle variable can replace the CA file or the
        authorities it verifies against (the environment is hostile)."""

        def _init_session(self):
            session = super()._init_session()
            session.trust_env = False
            return session

        def query_rule_encoded(self, input_json: bytes, package_path: str) -> dict:
            """query_rule for an input already in JSON: a batch of manifests is sent as it was encoded, not
            decoded into objects for requests to encode again."""
            response = self._session.post(
                f"{self.root_url}/data/{package_path}",
                data=b'{"input":%s}' % input_json,
                headers={"Content-Type": "application/json"},
                timeout=self.timeout,
            )
            response.raise_for_status()
            return response.json()

    return EnvironmentBlindClient


def healthy(client: "OpaClient") -> bool:
    """True when OPA answers its health check with 200, its bundles (if any) activated."""
    return client.check_health(query={"bundles": True})


def query(client: "OpaClient", url: str, what: str, input_data: dict) -> Any:
    """OPA's JSON answer for the document `what` (data.a.b) given `input_data`."""
    return _asking(client, url, what, lambda: client.query_rule(input_data, _data_path(what)))


def query_encoded(client: "OpaClient", url: str, what: str, input_json: bytes) -> Any:
    """query() for an input already in JSON."""
    return _asking(client, url, what, lambda: client.query_rule_encoded(input_json, _data_path(what)))


def read(client: "OpaClient", url: str, what: str) -> Any:
    """OPA's JSON answer for the document `what` (data.a.b) without input: {} when it is undefined."""
    from opa_client.errors import PolicyNotFoundError

    try:
        return _asking(client, url, what, lambda: client.get_data(_data_path(what)))
    except PolicyNotFoundError as error:
        if error.expression == PolicyNotFoundError.__name__:  # a 200 answer without a result: undefined
            return {}
        raise EngineError(f"OPA failed reading {what}: {' '.join(str(error.message).split())}") from None


def _data_path(what: str) -> str:
    return what.removeprefix("data.").replace(".", "/")


def _asking(client: "OpaClient", url: str, what: str, ask) -> Any:
    import requests

    try:
        return ask()
    except requests.exceptions.SSLError as error:
        raise EngineError(f"OPA at {url} is not trusted: its certificate did not verify ({_ssl_reason(error)})") from None
    except requests.exceptions.HTTPError as error:
        raise EngineError(f"OPA failed evaluating {what}: {_opa_message(error.response)}") from None
    except requests.exceptions.JSONDecodeError as error:
        raise EngineError(f"OPA at {url} gave an unusable answer for {what}: {error}") from None
    except requests.exceptions.RequestException as error:
        if _timed_out(error):
            raise EngineError(f"OPA at {url} did not answer {what} within {client.timeout:g}s") from None
        raise EngineError(f"OPA at {url} is unreachable (asking for {what})") from None
    except ValueError as error:  # the body was not JSON
        raise EngineError(f"OPA at {url} gave an unusable answer for {what}: {error}") from None


def _timed_out(error: BaseException) -> bool:
    """Whether a requests failure was a timeout, however requests and urllib3 wrapped it."""
    import requests
    from urllib3.exceptions import NewConnectionError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NewConnectionError):  # a refused connection, though urllib3 files it under timeouts
            return False
        if isinstance(current, (requests.exceptions.Timeout, Urllib3Timeout, TimeoutError)):
            return True
        linked = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        pending += [item for item in linked if isinstance(item, BaseException)]
    return False


def _ssl_reason(error: BaseException) -> str:
    text = str(error)
    marker = "certificate verify failed: "
    return text.split(marker, 1)[1].split(" (_ssl", 1)[0] if marker in text else "TLS handshake failed"


def _opa_message(response) -> str:
    status = f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return status
    if not isinstance(body, dict):
        return status
    errors = body.get("errors") or []
    detail = f" ({errors[0].get('message')})" if errors and isinstance(errors[0], dict) else ""
    return " ".join(f"{body.get('message', status)}{detail}".split())

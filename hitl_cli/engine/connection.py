"""Every conversation with OPA goes through opa-python-client (`opa_client.OpaClient`); this module only sets it
up from an OpaEndpoint and turns whatever it raises into one EngineError line.

The client is set up with no retries (a request that failed is never sent twice) and hitl's timeout for every
answer. `Clients` keeps one per caller at a time, so the threads of a long-lived Engine ask OPA at once and OPA,
which answers concurrently, evaluates their questions side by side. Its package imports its asyncio client too
(aiohttp, aiofiles), which a command never uses: only the synchronous client's module is imported
(_import_synchronous_client). Importing that still takes about a tenth of a second (requests):
`import_in_background()` starts it in a thread while a local OPA starts.

A caller on an asyncio event loop (hitl serve) asks through the package's asyncio client instead
(`connect_async`, `query_encoded_async`): no worker thread, whose hand-over of Python's interpreter lock costs a
decision milliseconds under load.
"""

import importlib
import importlib.util
import json
import queue
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from hitl_cli.engine.endpoint import OpaEndpoint, split_url
from hitl_cli.errors import EngineError

if TYPE_CHECKING:
    from opa_client.opa import OpaClient
    from opa_client.opa_async import AsyncOpaClient

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
        _import_synchronous_client()
        importlib.import_module("requests")
    finally:
        _imported.set()


_PACKAGE = "opa_client"


def _import_synchronous_client() -> None:
    """opa_client.opa (OpaClient) without running the package's __init__, which imports the asyncio client as well
    (about 0.15 s of CPU). The package stands in sys.modules unexecuted until it is asked for a name it lacks
    (`from opa_client import AsyncOpaClient`): then its __init__ runs, so any other importer sees all of it."""
    if _PACKAGE not in sys.modules:
        spec = importlib.util.find_spec(_PACKAGE)
        package = importlib.util.module_from_spec(spec)

        def complete(name: str) -> object:
            del package.__getattr__
            spec.loader.exec_module(package)
            return getattr(package, name)

        package.__getattr__ = complete
        sys.modules[_PACKAGE] = package
    importlib.import_module(f"{_PACKAGE}.opa")


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
        headers=_headers(endpoint),
        retries=0,
        timeout=timeout,
    )


def _headers(endpoint: OpaEndpoint) -> dict[str, str] | None:
    return None if endpoint.compressed else {"Accept-Encoding": "identity"}


class Clients:
    """OpaClients for one endpoint, each lent to one caller at a time: made when every one made is busy, kept
    for the next caller after, all closed by `close`."""

    def __init__(self, endpoint: OpaEndpoint, timeout: float):
        self._endpoint, self._timeout = endpoint, timeout
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._made: list["OpaClient"] = []
        self._lock = threading.Lock()
        self._idle.put(self._make())  # the first is made at once: a bad endpoint fails here, not at the first call

    def _make(self) -> "OpaClient":
        made = connect(self._endpoint, self._timeout)
        with self._lock:
            self._made.append(made)
        return made

    @contextmanager
    def lent(self) -> Iterator["OpaClient"]:
        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            client = self._make()
        try:
            yield client
        finally:
            self._idle.put(client)

    def close(self) -> None:
        with self._lock:
            made, self._made = self._made, []
        for client in made:
            client.close_connection()


def _client_class() -> type:
    from opa_client.opa import OpaClient
    from pydantic_core import from_json

    class EnvironmentBlindClient(OpaClient):
        """OpaClient whose session ignores the environment (requests' trust_env): no proxy variable can route
        hitl's questions through another server, and no CA-bundle variable can replace the CA file or the
        authorities it verifies against (the environment is hostile)."""

        def _init_session(self):
            session = super()._init_session()
            session.trust_env = False
            return session

        def query_rule_encoded(self, body: bytes, package_path: str) -> dict:
            """query_rule with its body ({"input": ...}) already in JSON: an input hitl put together in JSON
            (hitl_cli.engine.client.RunInput) is sent as it is, not decoded only to be encoded again. The answer
            is decoded by pydantic's JSON parser, which gives equal short strings one object: the decisions of
            100,000 manifests repeat a few hundred names, types and environments (json.loads made one object each)."""
            response = self._session.post(
                f"{self.root_url}/data/{package_path}", data=body, headers={"Content-Type": "application/json"},
                timeout=self.timeout,
            )
            response.raise_for_status()
            return from_json(response.content)

    return EnvironmentBlindClient


def healthy(client: "OpaClient") -> bool:
    """True when OPA answers its health check with 200, its bundles (if any) activated."""
    return client.check_health(query={"bundles": True})


def query(client: "OpaClient", url: str, what: str, input_data: dict) -> Any:
    """OPA's JSON answer for the document `what` (data.a.b) given `input_data`."""
    return _asking(client, url, what, lambda: client.query_rule(input_data, _data_path(what)))


def query_encoded(client: "OpaClient", url: str, what: str, input_json: bytes) -> Any:
    """query, with the input already in JSON."""
    return _asking(client, url, what, lambda: client.query_rule_encoded(b'{"input":%s}' % input_json, _data_path(what)))


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


def connect_async(endpoint: OpaEndpoint, timeout: float) -> "AsyncOpaClient":
    """An AsyncOpaClient for the endpoint, set up as `connect` sets up the synchronous one; its session is opened by
    the first question, on the event loop that asks it, and closed by `close_connection()` on the same loop."""
    return _async_client_class()(
        host=endpoint.client_host,
        port=endpoint.port,
        ssl=split_url(endpoint.url)[2],
        verify=endpoint.verify,
        token=endpoint.token,
        headers=_headers(endpoint),
        retries=0,
        timeout=timeout,
    )


def _async_client_class() -> type:
    import ssl

    import aiohttp
    import certifi
    from opa_client.opa_async import AsyncOpaClient
    from pydantic_core import from_json

    class EnvironmentBlindAsyncClient(AsyncOpaClient):
        """AsyncOpaClient that, like EnvironmentBlindClient, takes nothing from the environment (no proxy, no CA
        bundle: aiohttp's trust_env off, and the authorities are the CA file's or certifi's, never a default
        path an environment variable can move), and sends an input already in JSON."""

        def __init__(self, *args, verify: bool | str, **kwargs):
            super().__init__(*args, **kwargs)
            self._verify = verify

        async def _init_session(self):
            context = ssl.create_default_context(
                cafile=self._verify if isinstance(self._verify, str) else certifi.where()
            ) if self._verify else None
            self._connector = aiohttp.TCPConnector(ssl=context if context is not None else True)
            self._session = aiohttp.ClientSession(
                headers=self.headers, connector=self._connector, trust_env=False,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )

        async def query_rule_encoded(self, body: bytes, package_path: str) -> Any:
            """query_rule_encoded of EnvironmentBlindClient, awaited: OPA's status, and its answer decoded."""
            if self._session is None:
                await self._init_session()
            async with self._request(
                "POST", f"{self.root_url}/data/{package_path}", data=body, headers={"Content-Type": "application/json"}
            ) as response:
                body = await response.read()
                return response.status, (from_json(body) if response.status == 200 else body)

    return EnvironmentBlindAsyncClient


async def query_encoded_async(client: "AsyncOpaClient", url: str, what: str, input_json: bytes) -> Any:
    """query_encoded, asked on the running event loop; the same one-line EngineError for every failure."""
    import asyncio

    import aiohttp

    try:
        status, answer = await client.query_rule_encoded(b'{"input":%s}' % input_json, _data_path(what))
    except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as error:
        raise EngineError(f"OPA at {url} is not trusted: its certificate did not verify ({_ssl_reason(error)})") from None
    except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
        raise EngineError(f"OPA at {url} did not answer {what} within {client.timeout:g}s") from None
    except aiohttp.ClientError:
        raise EngineError(f"OPA at {url} is unreachable (asking for {what})") from None
    except ValueError as error:  # the body was not JSON
        raise EngineError(f"OPA at {url} gave an unusable answer for {what}: {error}") from None
    if status != 200:
        raise EngineError(f"OPA failed evaluating {what}: {_opa_message(status, answer)}")
    return answer


def _asking(client: "OpaClient", url: str, what: str, ask) -> Any:
    import requests

    try:
        return ask()
    except requests.exceptions.SSLError as error:
        raise EngineError(f"OPA at {url} is not trusted: its certificate did not verify ({_ssl_reason(error)})") from None
    except requests.exceptions.HTTPError as error:
        raise EngineError(f"OPA failed evaluating {what}: {_opa_message(error.response.status_code, error.response.content)}") from None
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


def _opa_message(status_code: int, content: bytes) -> str:
    status = f"HTTP {status_code}"
    try:
        body = json.loads(content)
    except ValueError:
        return status
    if not isinstance(body, dict):
        return status
    errors = body.get("errors") or []
    detail = f" ({errors[0].get('message')})" if errors and isinstance(errors[0], dict) else ""
    return " ".join(f"{body.get('message', status)}{detail}".split())

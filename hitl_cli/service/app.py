"""hitl's HTTP API (FastAPI): decisions, requests, waiting for a request, the review queue.

Every answer comes from an `Engine` (hitl_cli.api) the server configured: its profile, its store, its track
record. A request body carries manifests and nothing else that counts - a `profile`, a `track_record` or any
other key beside `manifests` is ignored - and the manifests are validated exactly as the CLI validates a file
(`manifests[i]: field.path: message`). Verdicts are taken only signed. With a token, every route but /health
needs `Authorization: Bearer TOKEN`.
"""

import asyncio
import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.concurrency import run_in_threadpool
from fastapi.requests import Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from hitl_cli import __version__, settings
from hitl_cli.api import POLL_SECONDS, Engine
from hitl_cli.errors import ExitCode, HitlError, InvalidInput, NotFound, Problem, UsageError
from hitl_cli.inputs import manifests_by_source
from hitl_cli.models import ActionManifest, Decision
from hitl_cli.validation import field_path
from hitl_cli.workflow.status import WAITING
from hitl_cli.workflow.verdict_files import VerdictFile
from hitl_cli.workflow.views import RequestView

MAX_MANIFESTS = 1000
MAX_WAIT_SECONDS = 300.0
MAX_PROBLEMS = 100
# What a decision request (POST /v1/decisions) may carry to be decided on the event loop: its manifests, and the bytes
# of its body (validating a few large manifests would hold the loop as long as many small ones).
ON_THE_LOOP = 8
ON_THE_LOOP_BYTES = 256 * 1024
MANIFEST_SCHEMA = "ActionManifest"
REQUEST_ID = Annotated[str, Path(min_length=1, max_length=300, description="A request id (hitl submit).")]

# What each fault answers: its HTTP status, beside the CLI's exit code in the body.
STATUS_FOR_EXIT_CODE = {2: 400, 4: 422, 5: 503, 6: 409, 7: 404, 8: 500}


class ManifestsBody(BaseModel):
    """Action manifests to decide or submit; any other key (a profile, a track record) is ignored."""

    model_config = ConfigDict(extra="ignore")

    manifests: Annotated[
        list[dict[str, Any]],
        Field(min_length=1, max_length=MAX_MANIFESTS),
        WithJsonSchema({"type": "array", "minItems": 1, "maxItems": MAX_MANIFESTS,
                        "items": {"$ref": f"#/components/schemas/{MANIFEST_SCHEMA}"}}),
    ]


class Decisions(BaseModel):
    profile: str
    decisions: list[Decision]


class SubmittedRequest(BaseModel):
    submission: str = Field(description="new, or existing: the same manifest's live request")
    superseded: list[str]
    request: RequestView


class Submitted(BaseModel):
    profile: str
    requests: list[SubmittedRequest]


class Fault(BaseModel):
    error: str
    exit_code: int
    problems: list[str] = []


class Health(BaseModel):
    status: str
    version: str


FAULTS = {status: {"model": Fault} for status in (400, 401, 404, 413, 422, 503)}


def create_app(engine: Engine, token: str | None) -> FastAPI:
    """The API in front of an Engine already started; `token`: what every request must carry (None: nothing)."""
    # A body is held to the limit of an input file: the same manifests in a file larger than this are refused too.
    body_limit = settings.max_file_bytes()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.aclose()

    app = FastAPI(
        lifespan=lifespan,
        title="hitl",
        version=__version__,
        description="How much human involvement an AI data agent's next action needs, decided by OPA from policy.",
        responses=FAULTS,
    )
    app.add_middleware(BodyLimit, limit=body_limit)
    bearer = HTTPBearer(auto_error=False)

    async def authorised(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        # async: a check this small runs on the event loop, not through a worker thread
        if token is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "hitl serve requires its bearer token (Authorization: Bearer TOKEN)",
                                headers={"WWW-Authenticate": "Bearer"})

    guarded = [Depends(authorised)]

    @app.exception_handler(HitlError)
    async def hitl_fault(request: Request, error: HitlError) -> JSONResponse:
        problems = [str(problem) for problem in error.problems][:MAX_PROBLEMS] if isinstance(error, InvalidInput) else []
        message = "invalid input" if problems else str(error)
        body = Fault(error=message, exit_code=int(error.exit_code), problems=problems)
        return JSONResponse(body.model_dump(), status_code=STATUS_FOR_EXIT_CODE.get(int(error.exit_code), 500))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [str(Problem("request", field_path(tuple(e["loc"])), e["msg"])) for e in error.errors()]
        body = Fault(error="invalid request", exit_code=int(ExitCode.INVALID_INPUT), problems=problems[:MAX_PROBLEMS])
        return JSONResponse(body.model_dump(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_fault(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 413:
            return _too_large(body_limit)
        code = ExitCode.REFUSED if error.status_code == 401 else ExitCode.USAGE
        body = Fault(error=str(error.detail), exit_code=int(code))
        return JSONResponse(body.model_dump(), status_code=error.status_code,
                            headers=error.headers)

    @app.exception_handler(Exception)
    async def internal_fault(request: Request, error: Exception) -> JSONResponse:
        # the last line of defence, as the CLI's: an engine fault's answer (the traceback goes to the server's log)
        code = ExitCode.ENGINE_FAILURE
        body = Fault(error=f"internal error ({type(error).__name__}): nothing was decided", exit_code=int(code))
        return JSONResponse(body.model_dump(), status_code=STATUS_FOR_EXIT_CODE[int(code)])

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> Health:
        return Health(status="ok", version=__version__)

    @app.post("/v1/decisions", response_model=Decisions, dependencies=guarded, tags=["decisions"])
    async def decide(body: ManifestsBody, request: Request) -> Response:
        """Each manifest's decision under the server's profile and track record; nothing is recorded."""
        # records nothing: an invalid manifest is refused afterwards. A few manifests are decided on the event loop,
        # which a worker thread would make wait for Python's interpreter lock; more, or large ones, whose validation
        # would hold the loop, on a worker thread.
        declared = _declared_length(request.headers)  # a body that declares none (chunked) counts as large
        if len(body.manifests) <= ON_THE_LOOP and declared is not None and declared <= ON_THE_LOOP_BYTES:
            result = await engine.decide_async(body.manifests)
        else:
            result = await run_in_threadpool(engine.decide, body.manifests)
        if result.manifest_problems:
            raise InvalidInput(result.manifest_problems)
        return _json(Decisions(profile=engine.profile_name, decisions=[item.decision for item in result.evaluated]))

    @app.post("/v1/requests", response_model=Submitted, dependencies=guarded, tags=["requests"])
    def submit(body: ManifestsBody) -> Submitted:
        """Decide each manifest and record it as a request (hitl submit); each request as it stands."""
        _refuse_invalid(body.manifests)
        result = engine.submit(body.manifests)
        requests = [SubmittedRequest(submission=item.outcome, superseded=item.superseded, request=item.view)
                    for item in result.submitted]
        return Submitted(profile=engine.profile_name, requests=requests)

    @app.get("/v1/requests/{request_id}", response_model=RequestView, dependencies=guarded, tags=["requests"])
    def status(request_id: REQUEST_ID) -> RequestView:
        """Where a request stands now (hitl status)."""
        return engine.status(request_id)

    @app.post("/v1/requests/{request_id}/verdicts", response_model=RequestView, dependencies=guarded,
              tags=["requests"], responses={409: {"model": Fault}})
    def verdict(request_id: REQUEST_ID, body: VerdictFile) -> RequestView:
        """Record a signed verdict on the request (approve, reject or override): a verdict file as `hitl approve
        --attest` or `hitl approvals export` writes it, or a statement signed with `ssh-keygen -Y sign -n
        hitl-verdict`. It is recorded only if it counts exactly as one given with `hitl approve --key` would:
        its signer listed in the profile with a role that may give it, the signature over this request's
        manifest, policy revision and tier. Unsigned verdicts are never taken here (409 otherwise)."""
        if body.statement.request_id != request_id:
            raise UsageError(f"the verdict is for request {body.statement.request_id!r}, not {request_id!r}")
        return engine.record_verdict(body)

    @app.get("/v1/requests/{request_id}/wait", response_model=RequestView, dependencies=guarded, tags=["requests"])
    async def wait(
        request_id: REQUEST_ID,
        timeout: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS, description="Seconds to wait at most.")] = 30.0,
    ) -> RequestView:
        """The request once it no longer waits for people, or as it stands when `timeout` seconds have passed."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = await run_in_threadpool(engine.look, request_id, last)
            remaining = deadline - time.monotonic()
            if last.view.status not in WAITING:
                return last.view
            if remaining <= 0:
                return await run_in_threadpool(engine.status, request_id)
            await asyncio.sleep(min(POLL_SECONDS, remaining))

    @app.get("/v1/queue", response_model=list[RequestView], dependencies=guarded, tags=["requests"])
    def queue() -> list[RequestView]:
        """What waits for people, oldest first (hitl queue)."""
        try:
            return engine.queue()
        except NotFound:  # no store yet: nothing waits
            return []

    app.openapi_schema = _with_manifest_schema(app)
    return app


class BodyLimit:
    """A request body larger than an input file may be is refused (413, hitl's fault body, exit code 4) before it is
    read whole: at once when its Content-Length says so, else once that many of its bytes have come. Starlette's own
    limit answers a declared length with a plain-text 413 whatever the app's handlers say."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _declared_length(Headers(scope=scope))
        if declared is not None and declared > self.limit:
            return await _too_large(self.limit)(scope, receive, send)
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise HTTPException(413)  # answered by the app's handler: _too_large
            return message

        await self.app(scope, counted, send)


def _too_large(limit: int) -> JSONResponse:
    body = Fault(error=f"invalid input: the request body is larger than {settings.MAX_FILE_BYTES} ({limit} bytes)",
                 exit_code=int(ExitCode.INVALID_INPUT))
    return JSONResponse(body.model_dump(), status_code=413)


def _declared_length(headers: Headers) -> int | None:
    """The body's Content-Length, None when it declares none."""
    declared = headers.get("content-length", "")
    return int(declared) if declared.isdigit() else None


def _json(answer: BaseModel) -> Response:
    """The model as the route's JSON answer. A model hitl built is not validated again on its way out (FastAPI would
    do that on a worker thread of its own for every answer of a route that returns the model)."""
    return Response(answer.model_dump_json(), media_type="application/json")


def _refuse_invalid(manifests: list[dict]) -> None:
    """A body with an invalid manifest is refused whole, before anything is recorded: an agent acts on all its
    answers or on none. The problems are the CLI's (`manifests[i]: field.path: message`)."""
    problems = [problem for _, found in manifests_by_source(manifests) for problem in found]
    if problems:
        raise InvalidInput(problems)


def _with_manifest_schema(app: FastAPI) -> dict:
    """The generated OpenAPI document, with the ActionManifest schema (the same model the CLI validates with)
    among its components."""
    document = app.openapi()
    manifest = ActionManifest.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(manifest.pop("$defs", {}))
    schemas[MANIFEST_SCHEMA] = manifest
    return document

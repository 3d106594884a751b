"""`hitl serve`: hitl's own HTTP API (hitl_cli.service.app, on uvicorn) in front of a private OPA.

The OPA listens on a free loopback port and answers only requests carrying a random token made for this run
(hitl_cli.engine.access), so nothing but this server talks to it; the API reaches it through an Engine, which
believes it only once it serves the policy revision hitl computes for the profile, as for --opa-url. With a
bundle, the OPA serves that bundle (verified first) instead of the checkout's policies. Statements are analysed in
a process of their own (hitl_cli.statements.analyst_process), so that no parse holds the server.
"""

import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hitl_cli import bundles
from hitl_cli.api import Engine
from hitl_cli.engine import serve_environment, served_sources
from hitl_cli.engine.access import ServeAccess, listening_host
from hitl_cli.engine.server import LocalOpaServer
from hitl_cli.inputs import load_profile, profile_path
from hitl_cli.output import warn
from hitl_cli.statements import analyst_process

@dataclass(frozen=True)
class ServedBundle:
    path: Path
    verification_key: str | None
    algorithm: str


@dataclass(frozen=True)
class ServeSettings:
    address: str
    access: ServeAccess
    profile: str
    state: Path
    track_record: Path | None
    calibration: Path  # the calibration file the OPA loads (missing: none), beside the store by default
    bundle: ServedBundle | None
    decision_logs: bool
    statement_timeout: float  # seconds one statement's analysis may take (hitl_cli.statements.analyst_process)


def serve(settings: ServeSettings) -> int:
    """Serve until stopped (Ctrl-C, SIGTERM); the private OPA and the analyst process stop with it."""
    try:
        analyst_process.start(settings.statement_timeout)  # started first: it loads its parser while OPA starts
        return _serve(settings)
    finally:
        analyst_process.stop()


def _serve(settings: ServeSettings) -> int:
    import uvicorn

    from hitl_cli.service.app import create_app

    host, port = _split_address(settings.address)
    opa_token = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="hitl-serve-") as folder, _private_opa(settings, Path(folder), opa_token) as opa:
        with Engine(
            [settings.profile], state=settings.state, track_record=settings.track_record, opa_url=opa.endpoint.url,
            token=opa_token, calibration=settings.calibration,
        ) as engine:
            app = create_app(engine, settings.access.token)
            scheme = "https" if settings.access.https else "http"
            warn(f"hitl: serving profile {engine.profile_name} on {scheme}://{settings.address} (Ctrl-C stops it)")
            server = uvicorn.Server(uvicorn.Config(
                app, host=host, port=port, log_level="warning", access_log=False, server_header=False, http="httptools", loop="uvloop",
                ssl_certfile=settings.access.tls_cert_file, ssl_keyfile=settings.access.tls_private_key_file,
            ))
            server.run()
    return 0


def _private_opa(settings: ServeSettings, folder: Path, token: str) -> LocalOpaServer:
    extra = ["--set", "decision_logs.console=true"] if settings.decision_logs else []
    if settings.bundle is not None:
        bundle = settings.bundle
        sources: list[Path] = []
        extra += bundles.serving_args(bundle.path, bundle.verification_key, bundle.algorithm, folder)
    else:
        profile = load_profile(profile_path(settings.profile))
        sources = served_sources([profile], folder, settings.calibration)
    environment = serve_environment()
    return LocalOpaServer(sources, extra_args=extra, quiet=not settings.decision_logs, environment=environment, token=token)


def _split_address(address: str) -> tuple[str, int]:
    host = listening_host(address)
    return host, int(address.rpartition(":")[2])

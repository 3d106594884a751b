"""The least an HTTP service built on hitl's packages costs per decision: FastAPI on uvicorn (httptools, uvloop), taking
`{"manifests": [...]}` as hitl serve does, and asking OPA for data.hitl.main.decisions through opa-python-client's
asyncio client, with nothing else: no token, no validation beyond the body's shape, no statement analysis, no
check of the answer. bench/serve_api.py runs it in front of OPA serving the shape floor (bench/shape_floor.py),
with the same load generator as hitl serve, so that what is left between the two is hitl's own work and its
policy's.

    python bench/serve_floor.py PORT OPA_PORT PROFILE
"""

import sys
from typing import Any

NAME = "serve floor"  # what bench/serve_api.py calls it
DESCRIBED = "FastAPI, uvicorn and opa-python-client's asyncio client in front of OPA serving the shape floor"


def main() -> int:
    import json
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import Response
    from opa_client.opa_async import AsyncOpaClient
    from pydantic import BaseModel

    port, opa_port, profile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    opa = AsyncOpaClient(host="127.0.0.1", port=opa_port, retries=0, timeout=5)

    class Body(BaseModel):
        manifests: list[dict[str, Any]]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with opa:
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.post("/v1/decisions")
    async def decide(body: Body) -> Response:
        answer = await opa.query_rule({"profile": profile, "manifests": body.manifests}, "hitl/main/decisions")
        return Response(json.dumps({"profile": profile, "decisions": answer["result"]}), media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http="httptools", loop="uvloop")
    return 0


if __name__ == "__main__":
    sys.exit(main())

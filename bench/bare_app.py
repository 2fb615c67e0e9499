"""The baseline for bench_intake: a bare Litestar endpoint that reads the body
and answers 202, served by the same uvicorn settings as `kimi-review serve`."""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from litestar import Litestar, Request, post


@post("/webhooks/github", status_code=202, request_max_body_size=25 * 1024 * 1024)
async def bare(request: Request[Any, Any, Any]) -> dict[str, str]:
    await request.body()
    return {"job_id": "bare"}


if __name__ == "__main__":
    app = Litestar(route_handlers=[bare], openapi_config=None, logging_config=None)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,
    )

"""The small HTTP server every kstore process runs: metrics, liveness, readiness.

- `/metrics`: the default prometheus_client registry, in the text exposition format.
- `/healthz`: 200 "ok" while the event loop answers at all (the supervisor's ping).
- `/readyz`: 200 "ok" once the process said it is ready (`Runtime.set_ready()`), else 503
  with the reason it gave, so `kstore status` and the supervisor can show why.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

ReadyFn = Callable[[], tuple[bool, str]]


def make_app(ready: ReadyFn) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        # aiohttp refuses a charset inside content_type=, so set the header as is.
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        ok, reason = ready()
        if ok:
            return web.Response(text="ok")
        return web.Response(status=503, text=reason or "not ready")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def start_http(host: str, port: int, ready: ReadyFn) -> web.AppRunner:
    """Serve on host:port until `await runner.cleanup()`; raises OSError if the port is taken."""
    runner = web.AppRunner(make_app(ready), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner

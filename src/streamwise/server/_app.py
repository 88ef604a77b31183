"""``create_asgi_app(app)``: the Starlette app serving every agent and workflow of an app.

The server sits on top of the layers: it imports the app, never the other way round;
``Streamwise.asgi()`` looks this module up by name and calls :func:`create_asgi_app`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._gc import tune_gc
from ..app import Streamwise
from ..errors import StorageUnavailableError
from ._agents import agent_routes
from ._auth import BearerAuthMiddleware
from ._openapi import openapi_document
from ._responses import error_response, json_response
from ._runs import RunRegistry
from ._settings import ServerSettings
from ._state import ServerState
from ._ui_routes import ui_routes
from ._workflows import workflow_routes

__all__ = ("create_asgi_app",)


def create_asgi_app(app: Streamwise, settings: ServerSettings | None = None) -> Starlette:
    """An ASGI app serving ``app`` over HTTP (PROTOCOL.md §7-§8).

    Args:
        app: the agents and workflows to serve.
        settings: auth, CORS, limits; default: :meth:`ServerSettings.from_env`.
    """
    settings = settings or ServerSettings.from_env()
    state = ServerState(app=app, settings=settings, runs=RunRegistry(settings.max_runs))
    document = openapi_document()

    async def openapi(request: Request) -> Response:
        return json_response(document)

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(404, f"no route {request.method} {request.url.path}")

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        return error_response(405, f"{request.method} is not allowed on {request.url.path}")

    async def storage_unavailable(request: Request, exc: Exception) -> Response:
        # The database is down or restarting: worth trying again shortly, unlike a 500.
        response = error_response(503, f"storage unavailable: {exc}")
        response.headers["Retry-After"] = "1"
        return response

    async def internal_error(request: Request, exc: Exception) -> Response:
        # The details go to the server log (uvicorn logs the exception); never to the client.
        return error_response(500, "internal server error")

    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["*"],
                expose_headers=["x-vercel-ai-ui-message-stream", "x-streamwise-run-id"],
            )
        )
    if settings.api_key:
        middleware.append(Middleware(BearerAuthMiddleware, api_key=settings.api_key))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if settings.gc_tuning:
            # Start-up is over (the app is imported and built): freeze it out of the
            # collector's way, once per process (docs/performance.md).
            tune_gc()
        yield
        # Shutdown: flush event logs, mark unfinished runs, disconnect (a Store passed to the
        # app stays the caller's to close).
        await app.close()

    server = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/openapi.json", openapi, methods=["GET"]),
            *agent_routes(state),
            *workflow_routes(state),
            *ui_routes(state),
        ],
        middleware=middleware,
        exception_handlers={
            404: not_found,
            405: method_not_allowed,
            StorageUnavailableError: storage_unavailable,
            Exception: internal_error,
        },
    )
    server.state.streamwise = state
    return server

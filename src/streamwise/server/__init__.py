"""The HTTP server: Mastra's API and the AI SDK UI message stream over Starlette.

``create_asgi_app(app)`` returns an ASGI app for any ASGI server; ``streamwise serve
module:app`` runs one with uvicorn. Routes and framings: PROTOCOL.md §7-§8, ``docs/server.md``.
"""

from ._app import create_asgi_app as create_asgi_app
from ._runs import RunRegistry as RunRegistry
from ._runs import RunRegistryStatistics as RunRegistryStatistics
from ._settings import ServerSettings as ServerSettings

__all__ = ("RunRegistry", "RunRegistryStatistics", "ServerSettings", "create_asgi_app")

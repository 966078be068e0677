"""The edges of tollway: the standalone ASGI server, the middleware, and the control plane.

``TollwayApp`` is the server (data plane, control plane, health, metrics, OpenAPI);
``TollwayMiddleware`` mounts routing in another ASGI app; ``Credentials`` holds the admin token
and tenant keys. ``tollway.transport.RouterTransport`` is the in-process door.
"""

from __future__ import annotations

from .app import TollwayApp
from .auth import Credentials
from .middleware import TollwayMiddleware

__all__ = ["Credentials", "TollwayApp", "TollwayMiddleware"]

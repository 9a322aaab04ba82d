"""What both provider stand-ins share: the official OpenAPI documents and a local HTTP server.

The documents in ``specs/`` are copies of ``shared/specs`` (MIT-licensed, see ``specs/README.md``).
:class:`SpecValidator` checks a request against one of them with openapi-core, after pointing
the document's servers at the stand-in. :func:`serve_in_thread` runs an ASGI app under uvicorn
on a free loopback port for the length of a ``with`` block; the browser tests serve the app
with it too.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import uvicorn
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

SPECS_DIR = Path(__file__).parent / "specs"


@cache
def spec_document(name: str) -> dict[str, Any]:
    return json.loads((SPECS_DIR / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


class SpecValidator:
    """Validates requests against one official document, served from ``base_url``."""

    def __init__(self, spec_file: str, base_url: str) -> None:
        spec = copy.deepcopy(spec_document(spec_file))
        spec["servers"] = [{"url": base_url}]
        for item in spec["paths"].values():
            if "servers" in item:
                item["servers"] = [{"url": base_url}]
        self.base_url = base_url
        self.openapi = OpenAPI.from_dict(spec)

    def errors(
        self,
        *,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> list[str]:
        """Every way the request breaks the document, one line each; empty when it is valid."""
        request = MockRequest(
            self.base_url,
            method.lower(),
            path,
            args=dict(query or {}),
            headers=dict(headers or {}),
            data=body or None,
            content_type=content_type,
        )
        result = self.openapi.unmarshal_request(request)
        return [_describe(error) for error in result.errors]


def _describe(error: Exception) -> str:
    """The error and its schema causes (openapi-core nests the useful part)."""
    parts = [str(error)]
    for cause in getattr(error, "schema_errors", None) or []:
        where = "/".join(str(p) for p in getattr(cause, "absolute_path", []))
        parts.append(f"{where or '<body>'}: {getattr(cause, 'message', cause)}")
    inner = error.__cause__
    if inner is not None and not getattr(error, "schema_errors", None):
        parts.append(_describe(inner) if isinstance(inner, Exception) else str(inner))
    return "; ".join(parts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, alive: Any = None, timeout: float = 15.0) -> None:
    """Block until something accepts connections on ``port`` (``alive()`` false: give up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError("the server stopped while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {timeout}s")


@contextmanager
def serve_in_thread(app: Any, *, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 in a daemon thread; yields the base URL, stops on exit."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name=f"standin-{port}", daemon=True)
    thread.start()
    try:
        wait_listening(port, thread.is_alive)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

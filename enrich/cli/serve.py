"""``enrich serve``: the landing page and webhooks under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the landing page and the provider webhooks (put a TLS proxy in front)."""
    # Imported here so the rest of the CLI starts without loading the web stack.
    import uvicorn

    # The factory builds the app in each worker from the ENRICH_* settings. Forwarded headers
    # are read by the app itself, only from ENRICH_TRUSTED_PROXIES (uvicorn's own default would
    # trust 127.0.0.1); webhook signatures are checked against ENRICH_BASE_URL.
    uvicorn.run(
        "enrich.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
        # Access lines would record personal links (/c/TOKEN): a token is a password.
        access_log=False,
    )

"""The local Prefect API server a command starts for its own lifetime (see
:mod:`enrich.cli.prefect_api`): ``python -m enrich.prefect_child PORT``.

It serves Prefect's own app under uvicorn and exits at once when the pipe from its parent closes,
as it does when the parent ends in any way, ``kill -9`` included.
"""

from __future__ import annotations

import os
import sys
import threading


def _exit_when_parent_goes() -> None:
    """Block on the pipe from the parent; its end (EOF) means the parent is gone."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main(argv: list[str]) -> None:
    import uvicorn

    port = int(argv[0])
    threading.Thread(target=_exit_when_parent_goes, name="parent-watch", daemon=True).start()
    uvicorn.run(
        "prefect.server.api.server:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="error",
        lifespan="on",
    )


if __name__ == "__main__":
    main(sys.argv[1:])

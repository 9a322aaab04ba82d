"""``/api/docs``: Swagger UI over ``/api/openapi.json``, under a policy made for that one page.

Swagger UI's script and stylesheet are served by us (the copy the ``fastapi-offline`` package
ships), so the page works on a machine without internet access and loads nothing from
elsewhere. The app's Content-Security-Policy allows only our own origin; this page adds only its
small inline start-up script, by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)
DOCS_URL = "/api/docs"
OPENAPI_URL = "/api/openapi.json"
ASSETS_URL = "/api/docs/assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def page_policy(html: str) -> str:
    """Our own origin, plus this page's inline scripts by their hashes; nothing else."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )


@router.get(DOCS_URL)
def api_docs(request: Request) -> HTMLResponse:
    title = f"{request.app.title} API"
    page = get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title=title,
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        # No badge from the public validator: the page asks nothing of other hosts.
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body).decode()
    return HTMLResponse(html, headers={"Content-Security-Policy": page_policy(html)})


def docs_assets() -> StaticFiles:
    """Swagger UI's script, stylesheet and icon, mounted at :data:`ASSETS_URL`."""
    return StaticFiles(directory=ASSETS_DIR)

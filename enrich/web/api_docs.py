"""``/api/docs``: Swagger UI over ``/api/openapi.json``, under a policy made for that one page.

The app's Content-Security-Policy allows only our own origin, and Swagger UI is a script and a
stylesheet from FastAPI's default asset host plus a small inline start-up script. This page
allows exactly those: the asset origins named in the page, and the inline script by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)
DOCS_URL = "/api/docs"
OPENAPI_URL = "/api/openapi.json"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
_ASSET = re.compile(r'<(?:script|link)[^>]*\s(?:src|href)="(https://[^"]+)"')


def page_policy(html: str) -> str:
    """A policy that allows this page's external assets and inline scripts, nothing else."""
    origins = sorted({f"https://{urlsplit(url).netloc}" for url in _ASSET.findall(html)})
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html)
    ]
    assets = " ".join(origins)
    return (
        f"default-src 'self'; script-src 'self' {assets} {' '.join(hashes)}; "
        f"style-src 'self' {assets}; img-src 'self' data: {assets}; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )


@router.get(DOCS_URL)
def api_docs(request: Request) -> HTMLResponse:
    title = f"{request.app.title} API"
    page = get_swagger_ui_html(openapi_url=OPENAPI_URL, title=title)
    html = bytes(page.body).decode()
    return HTMLResponse(html, headers={"Content-Security-Policy": page_policy(html)})

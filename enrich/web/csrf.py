"""CSRF protection for the landing forms: a random cookie plus an HMAC of it in the form.

The cookie (``SameSite=Strict``, ``HttpOnly``) holds a random nonce; each form carries
HMAC(secret_key, scope + nonce), where the scope names the form's target. A request passes only
when both are present and match, so another site can neither read nor forge the pair.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from enrich.settings import Settings

COOKIE = "enrich_csrf"
_NONCE = 32  # hex characters


def nonce_for(request: Request) -> str:
    """The nonce from the cookie when it is well formed, else a fresh one."""
    value = request.cookies.get(COOKIE, "")
    if len(value) == _NONCE and all(ch in "0123456789abcdef" for ch in value):
        return value
    return secrets.token_hex(_NONCE // 2)


def _sign(settings: Settings, scope: str, nonce: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    # The scope may hold a link token: only its hash enters the MAC input.
    scope_hash = hashlib.sha256(scope.encode()).hexdigest()
    return hmac.new(key, f"csrf:{scope_hash}:{nonce}".encode(), hashlib.sha256).hexdigest()


def form_token(settings: Settings, scope: str, nonce: str) -> str:
    return _sign(settings, scope, nonce)


def set_cookie(response: Response, settings: Settings, nonce: str) -> None:
    response.set_cookie(
        COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        secure=settings.base_url.lower().startswith("https://"),
        path="/",
    )


def valid(request: Request, settings: Settings, scope: str, submitted: object) -> bool:
    cookie = request.cookies.get(COOKIE, "")
    if not isinstance(submitted, str) or len(cookie) != _NONCE or len(submitted) != 64:
        return False
    return hmac.compare_digest(_sign(settings, scope, cookie), submitted)

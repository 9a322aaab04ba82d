"""The machine API's authentication: a key from ``ENRICH_API_KEYS`` as a security dependency.

A key comes as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` and is compared as a
SHA-256 digest, in constant time, with every configured key. No keys configured (or an unusable
entry) answers 503 naming the setting; a missing or wrong key 401, never repeating it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Annotated

from fastapi import Depends, HTTPException, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from enrich.web.deps import SettingsDep
from enrich.web.errors import NO_STORE

log = logging.getLogger(__name__)

bearer_scheme = HTTPBearer(
    auto_error=False, description="One of the keys in ENRICH_API_KEYS, as a bearer token."
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="One of the keys in ENRICH_API_KEYS."
)


def key_matches(presented: str, digests: tuple[bytes, ...]) -> bool:
    """Whether ``presented`` is one of the keys; every digest is compared, in constant time."""
    digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
    found = False
    for candidate in digests:
        found |= hmac.compare_digest(digest, candidate)
    return found


def _not_configured(fix: str) -> HTTPException:
    detail = f"the API is not configured: {fix} ENRICH_API_KEYS"
    return HTTPException(503, detail, headers=NO_STORE)


def require_api_key(
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    header: Annotated[str | None, Security(api_key_scheme)],
) -> None:
    """Lets the request through with a configured key; raises 503 or 401 otherwise."""
    try:
        digests = settings.api_key_digests
    except ValueError:
        log.error("ENRICH_API_KEYS has an unusable entry")
        raise _not_configured("fix") from None
    if not digests:
        raise _not_configured("set")
    presented = (bearer.credentials if bearer else header or "").strip()
    if not presented or not key_matches(presented, digests):
        raise HTTPException(
            401, "missing or wrong API key", headers={**NO_STORE, "WWW-Authenticate": "Bearer"}
        )


ApiKeyDep = Annotated[None, Depends(require_api_key)]

"""What runs the process and what other systems read: health checks and the API's OpenAPI."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from enrich.settings import Settings
from enrich.web.app import create_app
from tests.enrich.test_web_security import assert_secure


def client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), base_url="https://testserver")


def test_healthz_and_readyz_on_a_migrated_database(settings: Settings) -> None:
    with client(settings) as c:
        health, ready = c.get("/healthz"), c.get("/readyz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    assert_secure(ready.headers)


def test_readyz_is_503_on_a_database_without_the_schema(settings: Settings, tmp_path: Path) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    with client(settings.model_copy(update={"database_url": empty})) as c:
        health, ready = c.get("/healthz"), c.get("/readyz")
    assert health.status_code == 200  # the process is up; it only cannot serve yet
    assert ready.status_code == 503
    assert "migrations not current" in ready.json()["detail"]
    assert "empty.db" not in ready.text


def test_readyz_is_503_when_the_database_does_not_answer(
    settings: Settings, tmp_path: Path
) -> None:
    # A directory where the database file should be: SQLite cannot open it.
    folder = tmp_path / "not-a-file.db"
    folder.mkdir()
    unreachable = f"sqlite:///{folder}"
    with client(settings.model_copy(update={"database_url": unreachable})) as c:
        ready = c.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"detail": "not ready: database unreachable"}


def test_openapi_lists_only_the_machine_api(settings: Settings) -> None:
    with client(settings) as c:
        document = c.get("/api/openapi.json")
    assert document.status_code == 200
    spec = document.json()
    rights = {
        f"/api/data-subjects/{action}"
        for action in ("export", "dossier", "erase", "object", "restrict")
    }
    assert set(spec["paths"]) - rights == {"/api/contact-moments", "/api/changes"}
    changes = spec["paths"]["/api/changes"]["get"]
    assert set(changes["responses"]) >= {"200", "401", "422"}
    assert rights <= set(spec["paths"])
    for path in rights:
        assert set(spec["paths"][path]["post"]["responses"]) >= {"200", "401", "404", "422"}
    moment = spec["paths"]["/api/contact-moments"]["post"]
    assert set(moment["responses"]) >= {"200", "401", "404", "422", "503"}
    schemes = spec["components"]["securitySchemes"]
    assert {(s["type"], s.get("scheme"), s.get("name")) for s in schemes.values()} == {
        ("http", "bearer", None),
        ("apiKey", None, "X-API-Key"),
    }
    body = spec["components"]["schemas"]["MomentRequest"]
    assert set(body["required"]) == {"external_id", "channel", "context"}


def test_api_docs_page_loads_everything_from_our_own_origin(settings: Settings) -> None:
    with client(settings) as c:
        docs = c.get("/api/docs")
        assert docs.status_code == 200 and "/api/openapi.json" in docs.text
        policy = docs.headers["content-security-policy"]
        assert "'unsafe-inline'" not in policy and "'sha256-" in policy
        assert "frame-ancestors 'none'" in policy and "base-uri 'none'" in policy
        assert "https://" not in policy and "https://" not in docs.text
        for asset, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css")):
            url = docs.text.split(asset)[0].rsplit('"', 1)[1] + asset
            assert url.startswith("/api/docs/assets/"), url
            served = c.get(url)
            assert served.status_code == 200 and kind in served.headers["content-type"]
            assert len(served.content) > 10_000
    assert docs.headers["x-frame-options"] == "DENY"

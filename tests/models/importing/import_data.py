"""Customer CSV rows, files and read-back helpers the import tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from models.importing.apply_rows import ImportReport, import_csv
from models.tables import AUDIT, CONTACT, PROFILE

P = PROFILE
C = CONTACT
A = AUDIT

HEADER = (
    "external_id,given_name,family_name,email,mobile,street,house_number,postal_code,city,"
    "country,locale"
)

ANNA = "C1,Anna,de Vries,anna@example.com,06-12345678,Kerkstraat,12,1017 GC,Amsterdam,NL,nl_NL"
BRAM = "C2,Bram,Jansen,bram@example.net,+31 6 23456789,Molenweg,3,5611 AB,Eindhoven,NL,en"
CAMILLE = "C3,Camille,Martin,camille@example.com,+33 6 12 34 56 78,Rue X,1,75001,Paris,FR,fr_FR"


def row(*, extra: tuple[str, ...] = (), **cells: str) -> str:
    """A data line with the given cells and every other column empty."""
    return ",".join(cells.get(c, "") for c in (*HEADER.split(","), *extra))


def write(tmp_path: Path, *lines: str, name: str = "customers.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(engine: Engine, path: Path, **options: Any) -> ImportReport:
    return import_csv(
        engine=engine,
        path=path,
        source_name=path.name,
        default_region="NL",
        supported_locales=["nl", "en"],
        default_locale="nl",
        **options,
    )


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def profile(engine: Engine, external_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(P).where(P.c.external_id == external_id)).mappings().one())


def points(engine: Engine, external_id: str) -> dict[str, dict[str, Any]]:
    query = select(C).join(P, P.c.id == C.c.profile_id).where(P.c.external_id == external_id)
    with engine.connect() as conn:
        return {row["kind"]: dict(row) for row in conn.execute(query).mappings()}


def audits(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(A).order_by(A.c.id)).mappings()]


def outcomes(report: ImportReport) -> list[tuple[int, str, str, str]]:
    return [(r.line, r.column, r.reason, r.kind) for r in report.rejects]

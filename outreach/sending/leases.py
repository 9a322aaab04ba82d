"""Leases: which run works on which enrollments right now, so that each due step is claimed,
sent, printed and recorded by exactly one run, on SQLite and on PostgreSQL alike.

A run leases a batch of enrollments in one statement before it writes or sends anything: the
rows it may take are locked in id order (``FOR UPDATE`` on PostgreSQL, where a competing run
waits and then sees the row taken; SQLite has one writer at a time) and stamped with the run's
owner id and an expiry. A heartbeat thread renews the expiry while the run lives, so a lease
lapses only when its run is gone: at once when the owner is a process on this machine that no
longer exists (``kill -9``), else ``lease_seconds`` after the last heartbeat (another machine).
Claims of messages are fenced by the lease (:func:`outreach.sending.attempts.claim`), so a run whose
lease lapsed while it stalled cannot claim anything more.

Lease times are wall-clock UTC, never a flow's (possibly simulated) ``now``; machines sharing a
database need synchronised clocks to within a small part of ``lease_seconds``.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

import psutil
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from models.tables import ENROLLMENT
from models.types import utcnow
from models.vocabulary import ACTIVE

SEPARATOR = "|"


@lru_cache(maxsize=1)
def _machine() -> str:
    """This process table's identity: host name, boot time and PID namespace. Two containers
    on one host share a host's boot time but not its PID namespace, so neither mistakes the
    other's live process for a dead one of its own."""
    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = "-"
    return f"{socket.gethostname()[:80]}:{int(psutil.boot_time())}:{namespace}"


def new_owner() -> str:
    """A fresh owner id: this machine, this process (pid and start time) and a random part, so
    that two batches of one process never share a lease."""
    pid = os.getpid()
    started = int(psutil.Process(pid).create_time() * 1000)
    return SEPARATOR.join((_machine(), str(pid), str(started), uuid.uuid4().hex[:16]))


def owner_is_dead(owner: str) -> bool:
    """True only when ``owner`` certainly ran on this machine and its process is gone (or the
    pid now belongs to a later process). Owners from other machines are never judged here."""
    parts = owner.split(SEPARATOR)
    if len(parts) != 4 or parts[0] != _machine():
        return False
    try:
        pid, started = int(parts[1]), int(parts[2])
    except ValueError:
        return False
    try:
        return int(psutil.Process(pid).create_time() * 1000) != started
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def _takeable(now: datetime, owner: str, dead: Sequence[str]) -> ColumnElement[bool]:
    e = ENROLLMENT.c
    free = or_(e.lease_owner.is_(None), e.lease_owner == owner, e.lease_expires_at < now)
    if dead:
        free = or_(free, e.lease_owner.in_(list(dead)))
    return and_(e.state == ACTIVE, free)


def acquire(
    conn: Connection, enrollment_ids: Sequence[int], *, owner: str, seconds: float
) -> list[int]:
    """Lease those of ``enrollment_ids`` that are active and free (never leased, released,
    expired, or held by a dead process of this machine); returns the ids won, in order."""
    if not enrollment_ids:
        return []
    e = ENROLLMENT.c
    now = utcnow()
    ids = sorted(set(enrollment_ids))
    held = conn.execute(
        select(e.lease_owner)
        .where(
            e.id.in_(ids),
            e.lease_owner.is_not(None),
            e.lease_owner != owner,
            e.lease_expires_at >= now,
        )
        .distinct()
    ).scalars()
    dead = [o for o in held if owner_is_dead(o)]
    locked = (
        select(e.id)
        .where(e.id.in_(ids), _takeable(now, owner, dead))
        .order_by(e.id)
        .with_for_update()  # PostgreSQL: wait for a competing run, then re-check; SQLite: none
    )
    won = conn.execute(
        update(ENROLLMENT)
        .where(e.id.in_(locked.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=seconds))
        .returning(e.id)
    ).scalars()
    return sorted(int(i) for i in won)


def renew(conn: Connection, *, owner: str, seconds: float) -> int:
    """Extend every lease of ``owner``; returns how many it still holds."""
    e = ENROLLMENT.c
    result = conn.execute(
        update(ENROLLMENT)
        .where(e.lease_owner == owner)
        .values(lease_expires_at=utcnow() + timedelta(seconds=seconds))
    )
    return int(result.rowcount or 0)


def release(conn: Connection, *, owner: str, enrollment_ids: Sequence[int] | None = None) -> None:
    """Give back ``owner``'s leases (all of them, or those of ``enrollment_ids``)."""
    e = ENROLLMENT.c
    where = [e.lease_owner == owner]
    if enrollment_ids is not None:
        where.append(e.id.in_(list(enrollment_ids)))
    conn.execute(update(ENROLLMENT).where(*where).values(lease_owner=None, lease_expires_at=None))


def held_by(owner: str) -> ColumnElement[bool]:
    """A condition on ``enrollment.id``-bearing rows: the enrollment is leased by ``owner`` and
    the lease has not lapsed. Used to fence claims."""
    e = ENROLLMENT.c
    return and_(e.lease_owner == owner, e.lease_expires_at > utcnow())


@dataclass
class Lease:
    """One run's lease on a batch of enrollments, renewed from a heartbeat thread."""

    engine: Engine
    seconds: float
    owner: str = field(default_factory=new_owner)
    ids: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _beat(self) -> None:
        interval = max(self.seconds / 4, 0.25)
        while not self._stop.wait(interval):
            try:
                with self.engine.begin() as conn:
                    renew(conn, owner=self.owner, seconds=self.seconds)
            except SQLAlchemyError:
                continue  # the next beat tries again; claims are fenced by the expiry anyway


@contextmanager
def leased(engine: Engine, enrollment_ids: Sequence[int], *, seconds: float) -> Iterator[Lease]:
    """Lease what can be leased of ``enrollment_ids`` for the duration of the block (the won
    ids are ``lease.ids``), keep the lease alive meanwhile, and give it back afterwards."""
    lease = Lease(engine=engine, seconds=seconds)
    with engine.begin() as conn:
        lease.ids = acquire(conn, enrollment_ids, owner=lease.owner, seconds=seconds)
    beat = threading.Thread(target=lease._beat, name="lease-heartbeat", daemon=True)
    if lease.ids:
        beat.start()
    try:
        yield lease
    finally:
        lease._stop.set()
        if beat.is_alive():
            beat.join()
        if lease.ids:
            with suppress(SQLAlchemyError), engine.begin() as conn:
                release(conn, owner=lease.owner)

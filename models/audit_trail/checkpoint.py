"""Signed checkpoints: the chain head, row count and time, signed with Ed25519.

A checkpoint kept away from the database (printed, mailed to the auditor) proves later, offline
and with only the public key, that nothing up to its head has changed: the head hash commits to
every row before it. Keys are 32 raw bytes, written in base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from models.audit_trail.canonical import canonical, canonical_time
from models.audit_trail.verify import Problem, Verified

FORMAT: Final = "enrich-audit-checkpoint/1"


class CheckpointError(ValueError):
    """A key or a checkpoint file that cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    head: str
    rows: int
    at: str
    key_id: str

    def payload(self) -> dict[str, Any]:
        return {"format": FORMAT, "seq": self.seq, "head": self.head, "rows": self.rows,
                "at": self.at, "key_id": self.key_id}  # fmt: skip


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _raw_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise CheckpointError(f"the {what} is not base64") from err
    if len(raw) != 32:
        raise CheckpointError(f"the {what} must be 32 bytes (base64 of an Ed25519 key)")
    return raw


def private_key(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_raw_key(text, "signing key"))


def public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_raw_key(text, "public key"))


def _public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of its sha256."""
    return hashlib.sha256(_public_raw(key)).hexdigest()[:16]


def new_key_pair() -> tuple[str, str]:
    """A fresh (signing key, public key), both base64."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes_raw()
    return _b64(raw), _b64(_public_raw(key.public_key()))


def sign(verified: Verified, signing_key: str, now: datetime) -> dict[str, Any]:
    """A checkpoint document of an intact chain (refuses a broken one)."""
    if verified.problem is not None:
        raise CheckpointError(f"the chain is broken, no checkpoint written: {verified.problem}")
    key = private_key(signing_key)
    point = Checkpoint(verified.head_seq, verified.head_hash, verified.rows, canonical_time(now),
                       key_id(key.public_key()))  # fmt: skip
    signature = key.sign(canonical(point.payload()))
    return {"checkpoint": point.payload(), "signature": _b64(signature)}


def write(document: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read(path: Path, public: str) -> Checkpoint:
    """The checkpoint in ``path``, its signature checked against the ``public`` key."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        body, signature = document["checkpoint"], base64.b64decode(document["signature"])
        if body.get("format") != FORMAT:
            raise CheckpointError(f"{path.name} is not a {FORMAT} file")
        point = Checkpoint(int(body["seq"]), str(body["head"]), int(body["rows"]),
                           str(body["at"]), str(body["key_id"]))  # fmt: skip
    except OSError as err:
        raise CheckpointError(f"cannot read {path.name}: {err.strerror}") from err
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(f"{path.name} is not a valid checkpoint file") from err
    key = public_key(public)
    if point.key_id != key_id(key):
        raise CheckpointError(
            f"the checkpoint was signed with key {point.key_id}, not with this public key "
            f"({key_id(key)})"
        )
    try:
        key.verify(signature, canonical(point.payload()))
    except InvalidSignature as err:
        raise CheckpointError(
            "the checkpoint's signature is not valid for this public key"
        ) from err
    return point


def against(point: Checkpoint, verified: Verified) -> Problem | None:
    """What is wrong with the trail measured against a checkpoint (None: unchanged up to it)."""
    if verified.problem is not None and (verified.problem.seq or 0) <= point.seq:
        return verified.problem
    if verified.head_seq < point.seq and verified.problem is None:
        gone = f"seq {verified.head_seq + 1}..{point.seq}"
        return Problem("deleted", verified.head_seq + 1, None,
                       f"the trail ends at seq {verified.head_seq}, the checkpoint has "
                       f"{point.seq} rows: {gone} were deleted")  # fmt: skip
    if verified.hashes.get(point.seq) != point.head and point.seq > 0:
        return Problem("edited", point.seq, None,
                       f"the trail up to seq {point.seq} is not the one the checkpoint signed: "
                       "rows were changed and the chain's hashes recomputed")  # fmt: skip
    return verified.problem

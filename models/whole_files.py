"""Files a reader sees whole or not at all: the outbox's messages and manifests, the CRM export,
the steward's reports.

The content goes to a hidden temporary file in the same folder (``tempfile.mkstemp``: mode
0600, readable by its owner only), is flushed to disk, and the file is renamed into place; if
the writing fails, the temporary file is removed and an earlier file of that name stays as it
was. A crash leaves at most a ``.<name>.*.tmp`` file that nothing reads.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal


@contextmanager
def written_whole(
    path: Path, mode: Literal["w", "wb"] = "w", *, newline: str | None = None
) -> Iterator[IO[Any]]:
    """An open file (text in UTF-8, or bytes with ``mode="wb"``) that becomes ``path`` when the
    block ends without an error."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        text = "b" not in mode
        with os.fdopen(
            handle, mode, encoding="utf-8" if text else None, newline=newline if text else None
        ) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

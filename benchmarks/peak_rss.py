"""Peak resident-set growth during a phase, and a phase's wall time with it, for the benchmark
scripts (imported as a sibling).

Linux: VmHWM is reset through ``/proc/self/clear_refs`` and read back, so the figure counts
Python objects and SQLite's page cache alike. Elsewhere: ``ru_maxrss`` growth, which reads 0
when an earlier phase peaked higher.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def start_peak() -> Callable[[], float]:
    """Start a phase; the returned function gives its peak RSS growth so far, in MiB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        before = _status_kib("VmRSS")
        peak: Callable[[], int] = lambda: _status_kib("VmHWM")  # noqa: E731
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # noqa: E731
    return lambda: max(peak() - before, 0) / 1024


def measure(fn: Callable[[], object]) -> tuple[float, float]:
    """Run ``fn``; its wall time in seconds and its peak RSS growth in MiB."""
    peak = start_peak()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started, peak()

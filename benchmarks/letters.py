"""Letters per second: one merged WeasyPrint document per batch against one document per letter.

Both ways run the real letter outbox end to end (templates, QR codes, PDF, manifest, atomic
write) into a temporary directory, each in its own child process so their memory is measured
apart. Peak memory is the child's peak resident set size (``resource.getrusage(RUSAGE_SELF)
.ru_maxrss``), which includes the interpreter and WeasyPrint themselves; the RSS after imports
and a warm-up letter is printed next to it so the growth is visible.

The per-letter way costs the same per letter at any count (every letter is its own document,
fonts subset again each time), so by default it runs on a sample of 40 letters to finish in
about two minutes; ``--per-letter-count N`` runs it on more.

Run from the repository root: ``python benchmarks/letters.py [--count N] [--per-letter-count M]``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CUSTOMERS = [
    ("Jan", "de Vries", "Dorpsstraat", "12a", "1234 AB", "Amsterdam", "NL", "nl"),
    ("Anne", "Peeters", "Wetstraat", "16", "1000", "Brussel", "BE", "nl-BE"),
    ("Jürgen", "Weiß", "Hauptstraße", "5", "10115", "Berlin", "DE", "de"),
    ("Marie", "Dupont", "rue de Rivoli", "12", "75001", "Paris", "FR", "fr"),
    ("Emma", "Janssen", "Kerkweg", "101", "3511 AB", "Utrecht", "NL", "en"),
]


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def child(mode: str, count: int, outbox: Path) -> dict[str, float]:
    """Runs inside the child process: send ``count`` letters one way, report time and memory."""
    from models.answers.link_tokens import new_token, personal_link
    from outreach.channels.base import Message, PostalAddress
    from outreach.channels.letter_outbox import LetterOutbox
    from outreach.config import OutreachConfig

    base_url = "https://enrich.example.org"
    rng = random.Random(7)

    def message(outreach_id: int) -> Message:
        given, family, street, number, code, city, country, locale = rng.choice(CUSTOMERS)
        address = PostalAddress(f"{given} {family}", street, number, code, city, country)
        return Message(
            outreach_id,
            "letter",
            "ask",
            locale,
            "",
            personal_link(base_url, new_token()),
            given,
            family,
            address,
        )

    config = OutreachConfig(
        outbox_dir=outbox,
        templates_dir=REPO / "templates",
        base_url=base_url,
        letter_batch_size=500 if mode == "batched" else 1,
    )
    outbox_channel = LetterOutbox(config)
    outbox_channel.send_batch([message(0)])  # warm-up: fonts, template compilation
    baseline = _rss_kib()
    messages = [message(i) for i in range(1, count + 1)]
    started = time.perf_counter()
    results = outbox_channel.send_batch(messages)
    elapsed = time.perf_counter() - started
    assert all(r.ok for r in results)
    files = len(list((outbox / "letters").glob("batch-*.pdf"))) - 1  # minus the warm-up
    return {
        "count": count,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "baseline_mib": baseline / 1024,
        "peak_mib": _rss_kib() / 1024,
        "pdfs": files,
    }


def run_child(mode: str, count: int, workdir: Path) -> dict[str, float]:
    outbox = workdir / mode
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--count", str(count), "--out", str(outbox)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="letters, batched (default 500)")
    parser.add_argument(
        "--per-letter-count",
        type=int,
        default=None,
        help="letters, one document each (default: 40, at most --count)",
    )
    parser.add_argument("--child", choices=["batched", "per-letter"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.count, args.out)))
        return

    per_letter_count = args.per_letter_count or min(args.count, 40)
    with tempfile.TemporaryDirectory(prefix="enrich-bench-letters-") as tmp:
        batched = run_child("batched", args.count, Path(tmp))
        single = run_child("per-letter", per_letter_count, Path(tmp))
    print(
        f"{'way':<28}{'letters':>8}{'PDFs':>6}{'seconds':>9}{'letters/s':>11}"
        f"{'RSS base MiB':>14}{'RSS peak MiB':>14}"
    )
    for name, r in (("one document per batch", batched), ("one document per letter", single)):
        print(
            f"{name:<28}{int(r['count']):>8}{int(r['pdfs']):>6}{r['seconds']:>9.1f}"
            f"{r['per_second']:>11.1f}{r['baseline_mib']:>14.0f}{r['peak_mib']:>14.0f}"
        )
    ratio = batched["per_second"] / single["per_second"]
    print(f"batched / per-letter throughput: {ratio:.1f}x (aim: at least 5x)")


if __name__ == "__main__":
    main()

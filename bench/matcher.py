"""How fast free text finds its playbook, with hundreds of playbooks.

Builds N synthetic playbooks (default 500) from the shipped ones, then times `Matcher.search` on
realistic staff phrases. The baseline, timed in the same run on the same strings, is the cheapest
possible scan: a plain substring test of the query's words against every choice string. The ratio
says what the typo- and order-tolerant scoring costs over merely looking at every string once.

    .venv/bin/python bench/matcher.py [--playbooks 500] [--rounds 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.loader import load_directory  # noqa: E402
from bot.core.matcher import Matcher  # noqa: E402
from bot.core.playbook import Playbook  # noqa: E402
from bot.core.text import Text, TextList  # noqa: E402

QUERIES = [
    "customer lost receipt and wants money back", "cliente senza scontrino", "missed conecting flight",
    "guest says neighbours too loud", "charged twice on my bill", "bag didnt arrive", "queue too long",
    "price on shelf different", "hotel full no room for guest", "parcel not delivered",
]
WORDS = ["late", "broken", "noisy", "refund", "voucher", "upgrade", "missing", "damaged", "cold", "wrong",
         "delayed", "double", "lost", "queue", "wifi", "parking", "booking", "invoice", "seat", "meal"]


def synthetic(shipped: list[Playbook], count: int) -> list[Playbook]:
    """`count` playbooks: the shipped ones, then variants with their own ids, titles and triggers."""
    out = list(shipped)
    index = 0
    while len(out) < count:
        base = shipped[index % len(shipped)]
        a, b = WORDS[index % len(WORDS)], WORDS[(index * 7 + 3) % len(WORDS)]
        out.append(replace(
            base, id=f"{base.id}-{index}",
            title=Text({"en": f"{base.title.get()} ({a} {b} {index})"}),
            triggers=TextList({"en": (*tuple(f"{t} {a}" for t in base.triggers.get()), f"{a} {b} case {index}")}),
        ))
        index += 1
    return out


def baseline_scan(choices: list[str], query: str) -> int:
    words = query.lower().split()
    return sum(1 for choice in choices for word in words if word in choice)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--playbooks", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    shipped, _ = load_directory(ROOT / "playbooks")
    playbooks = synthetic(shipped, args.playbooks)
    build_start = time.perf_counter()
    matcher = Matcher(playbooks)
    build_ms = (time.perf_counter() - build_start) * 1000
    choices = matcher._choices

    def timed(fn: object) -> list[float]:
        samples = []
        for _ in range(args.rounds):
            for query in QUERIES:
                start = time.perf_counter()
                fn(query)  # type: ignore[operator]
                samples.append((time.perf_counter() - start) * 1000)
        return samples

    # Interleave the two measurements so machine noise hits both alike.
    base, real = [], []
    for _ in range(3):
        base += timed(lambda q: baseline_scan(choices, q))
        real += timed(matcher.search)
    p50_b, p50_m = statistics.median(base), statistics.median(real)
    p95_m = statistics.quantiles(real, n=20)[18]
    print(f"playbooks: {len(playbooks)}, choice strings: {len(choices)}, index build: {build_ms:.1f} ms")
    print(f"baseline substring scan: p50 {p50_b:.3f} ms")
    print(f"matcher.search:          p50 {p50_m:.3f} ms, p95 {p95_m:.3f} ms")
    print(f"ratio matcher/baseline (p50): {p50_m / p50_b:.2f}x")


if __name__ == "__main__":
    main()

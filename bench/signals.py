"""Signal evaluation in bulk: judging crawl URLs for AI training, as ingest does.

    python -m bench.signals [--urls 1000000] [--origins 10000] [--seed 13]

Builds ``--origins`` origins with observations in memory (70% with a robots.txt of a few groups,
Allow/Disallow and Content-Usage rules, 20% with a tdmrep.json, Content-Usage headers on 1% of
URLs) and ``--urls`` URLs over them (mostly distinct paths, as a crawl has), then times
``registry.signals.evaluate.Judge``: compiling every origin once, then ``judge_many``.
Baseline in the same run: ``protego``'s own ``can_fetch`` over the same URLs with every
robots.txt parsed beforehand (Allow/Disallow only: less than the evaluator decides).
Target: >= 200,000 URLs/s over 1M URLs from 10k origins.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlsplit

from protego import Protego

from registry.signals.evaluate import HEADER, ROBOTS, TDMREP, Judge, ObservationFact
from registry.signals.vocab import CURRENT

AT = datetime(2026, 11, 1, tzinfo=UTC)
SECTIONS = ["news", "blog", "docs", "shop", "forum", "media", "private", "api", "ai-ok", "tag"]


def _robots(rng: random.Random) -> str:
    lines = ["User-agent: *", "Disallow: /private/", "Disallow: /*.pdf$"]
    for s in rng.sample(SECTIONS, 3):
        lines.append(f"Content-Usage: /{s}/ train-ai={rng.choice('yn')}")
    lines.append(f"Content-Usage: train-ai={rng.choice('yn')}")
    lines += ["", "User-agent: GPTBot", "Disallow: /", "Allow: /news/", ""]
    if rng.random() < 0.3:
        lines += ["User-agent: CCBot", "Content-Signal: search=yes, ai-train=no", ""]
    return "\n".join(lines)


def build(
    n_urls: int, n_origins: int, seed: int
) -> tuple[list[ObservationFact], list[str], dict[str, str]]:
    rng = random.Random(seed)
    facts: list[ObservationFact] = []
    robots: dict[str, str] = {}
    origins = [f"https://site{i}.example" for i in range(n_origins)]
    next_id = 1
    for origin in origins:
        if rng.random() < 0.7:
            text = _robots(rng)
            robots[origin] = text
            facts.append(ObservationFact(next_id, origin, ROBOTS, AT, text.encode(), CURRENT))
            next_id += 1
        if rng.random() < 0.2:
            raw = b'[{"location": "/media/*", "tdm-reservation": 1}, {"location": "/", "tdm-reservation": 0}]'
            facts.append(ObservationFact(next_id, origin, TDMREP, AT, raw, CURRENT))
            next_id += 1
    urls = []
    for i in range(n_urls):
        origin = origins[rng.randrange(n_origins)]
        path = f"/{rng.choice(SECTIONS)}/{rng.randrange(10**6)}-{i % 97}.html"
        if rng.random() < 0.05:
            path = path.replace(".html", ".pdf")
        url = origin + path
        urls.append(url)
        if rng.random() < 0.01:
            raw = f"Content-Usage: train-ai={rng.choice('yn')}".encode()
            facts.append(ObservationFact(next_id, origin, HEADER, AT, raw, CURRENT, path))
            next_id += 1
    return facts, urls, robots


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--urls", type=int, default=1_000_000)
    ap.add_argument("--origins", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--crawler", default="ExampleBot")
    args = ap.parse_args()

    t = time.perf_counter()
    facts, urls, robots = build(args.urls, args.origins, args.seed)
    print(
        f"built {len(urls):,} URLs over {args.origins:,} origins, {len(facts):,} observations "
        f"in {time.perf_counter() - t:.1f} s (not timed)"
    )

    c0, t0 = time.process_time(), time.perf_counter()
    judge = Judge(facts, args.crawler, AT)
    c1, t1 = time.process_time(), time.perf_counter()
    verdicts = judge.judge_many(urls)
    c2, t2 = time.process_time(), time.perf_counter()
    n = len(urls)
    print(
        f"evaluator: compile {t1 - t0:.2f} s wall ({c1 - c0:.2f} CPU), judge {t2 - t1:.2f} s wall "
        f"({c2 - c1:.2f} CPU): {n / (t2 - t0):,.0f} URLs/s wall including compile "
        f"({n / (c2 - c0):,.0f} per CPU-second); judging alone {n / (c2 - c1):,.0f} per CPU-second"
    )
    counts = Counter(v.state for v in verdicts)
    deciders = Counter(v.decided_by.signal for v in verdicts if v.decided_by is not None)
    print(f"  verdicts {dict(counts)}; decided by {dict(deciders)}")

    c3, t3 = time.process_time(), time.perf_counter()
    parsers = {origin: Protego.parse(text) for origin, text in robots.items()}
    c4, t4 = time.process_time(), time.perf_counter()
    allowed = 0
    for url in urls:
        parts = urlsplit(url)
        parser = parsers.get(f"{parts.scheme}://{parts.netloc}")
        if parser is None or parser.can_fetch(url, args.crawler):
            allowed += 1
    c5, t5 = time.process_time(), time.perf_counter()
    print(
        f"baseline protego can_fetch: parse {t4 - t3:.2f} s wall ({c4 - c3:.2f} CPU), check "
        f"{t5 - t4:.2f} s wall ({c5 - c4:.2f} CPU): {n / (t5 - t3):,.0f} URLs/s wall including "
        f"parse ({n / (c5 - c3):,.0f} per CPU-second; {allowed:,} fetchable)"
    )
    ours, base = n / (c2 - c0), n / (c5 - c3)
    print(
        f"ratio evaluator / protego (CPU): {ours / base:.2f}x; target >= 200,000 URLs/s: "
        f"{'met' if ours >= 200_000 else 'NOT met'} per CPU-second, "
        f"{'met' if n / (t2 - t0) >= 200_000 else 'NOT met'} wall"
    )


if __name__ == "__main__":
    main()

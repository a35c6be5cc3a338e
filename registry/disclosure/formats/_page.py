"""The HTML shell and inline SVG charts shared by the HTML formats.

Self-contained: one file, inline CSS and SVG, nothing fetched from anywhere (no fonts, scripts
or images), so the page works offline and leaks no reader to a third party. Every value goes
through ``esc`` (``html.escape``); markup is only ever built here from escaped parts.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

PALETTE = (
    "#2b6cb0",
    "#c05621",
    "#2f855a",
    "#b83280",
    "#6b46c1",
    "#b7791f",
    "#319795",
    "#718096",
)

CSS = """
:root{--fg:#1a202c;--muted:#4a5568;--line:#e2e8f0;--bg:#fff;--accent:#2b6cb0}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0}
h2{font-size:1.25rem;margin:1.8rem 0 .6rem;border-bottom:2px solid var(--line);padding-bottom:.2rem}
h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
.muted{color:var(--muted)}
code,.hash{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:.75rem}
.card{border:1px solid var(--line);border-radius:.5rem;padding:.75rem}
.card .n{font-size:1.5rem;font-weight:600}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:1rem}
figure{margin:0;border:1px solid var(--line);border-radius:.5rem;padding:.75rem}
figcaption{font-weight:600;margin-bottom:.5rem}
.legend{list-style:none;padding:0;margin:.5rem 0 0;font-size:.9rem}
.legend li{display:flex;align-items:center;gap:.4rem}
.sw{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;flex:none}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
dl{display:grid;grid-template-columns:minmax(8rem,16rem) 1fr;gap:.25rem 1rem;margin:.4rem 0}
dt{font-weight:600}dd{margin:0}
.np{color:#9b2c2c;font-style:italic}
pre{background:#f7fafc;border:1px solid var(--line);padding:.6rem;overflow-x:auto;font-size:.8rem}
@media (max-width:600px){body{font-size:15px}dl{grid-template-columns:1fr}dd{margin-bottom:.4rem}
h1{font-size:1.3rem}.card .n{font-size:1.2rem}}
@media print{.scroll{overflow:visible}}
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def num(value: int) -> str:
    return f"{value:,}"


def pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def page(title: str, body: Iterable[str], *, lang: str = "en") -> bytes:
    parts = [
        "<!doctype html>",
        f'<html lang="{esc(lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        # Nothing may load from elsewhere, even if a value slipped through unescaped.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>",
        *body,
        "</main></body></html>",
    ]
    return ("\n".join(parts) + "\n").encode("utf-8")


def table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[int] = ()
) -> str:
    head = "".join(
        f'<th{" class=num" if i in numeric else ""} scope="col">{esc(h)}</th>'
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if i in numeric else ''}>{esc(v)}</td>" for i, v in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _legend(items: Sequence[tuple[str, float]]) -> str:
    lis = "".join(
        f'<li><span class="sw" style="background:{PALETTE[i % len(PALETTE)]}"></span>'
        f"{esc(k)} <span class=muted>{pct(v)}</span></li>"
        for i, (k, v) in enumerate(items)
    )
    return f'<ul class="legend">{lis}</ul>'


def donut(caption: str, items: Sequence[tuple[str, float]]) -> str:
    """A donut chart of shares (0..1): one circle per item, drawn with stroke-dasharray."""
    r = 60.0
    circumference = 2 * math.pi * r
    offset = 0.0
    arcs = []
    for i, (key, share) in enumerate(items):
        length = share * circumference
        arcs.append(
            f'<circle r="{r}" cx="80" cy="80" fill="none" stroke="{PALETTE[i % len(PALETTE)]}" '
            f'stroke-width="28" stroke-dasharray="{length:.3f} {circumference - length:.3f}" '
            f'stroke-dashoffset="{-offset:.3f}" transform="rotate(-90 80 80)">'
            f"<title>{esc(key)}: {pct(share)}</title></circle>"
        )
        offset += length
    svg = (
        f'<svg viewBox="0 0 160 160" width="160" height="160" role="img" '
        f'aria-label="{esc(caption)}">{"".join(arcs)}</svg>'
    )
    return f"<figure><figcaption>{esc(caption)}</figcaption>{svg}{_legend(items)}</figure>"


def bars(caption: str, items: Sequence[tuple[str, float]]) -> str:
    """Horizontal bars of shares (0..1), scaled to the largest; labels above each bar."""
    height = 34 * len(items) + 4
    top = max((v for _, v in items), default=0.0) or 1.0
    rows = []
    for i, (key, share) in enumerate(items):
        y = 34 * i
        width = 100 * share / top
        rows.append(
            f'<text x="0" y="{y + 12}" font-size="12" fill="#1a202c">{esc(key)} — {pct(share)}</text>'
            f'<rect x="0" y="{y + 16}" width="{width:.2f}%" height="12" rx="2" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{esc(key)}: {pct(share)}</title></rect>'
        )
    svg = (
        f'<svg width="100%" height="{height}" role="img" aria-label="{esc(caption)}">'
        f"{''.join(rows)}</svg>"
    )
    return f"<figure><figcaption>{esc(caption)}</figcaption>{svg}</figure>"


def definitions(pairs: Iterable[tuple[str, str | None]], missing: str) -> str:
    items = []
    for k, v in pairs:
        value = f'<span class="np">{esc(missing)}</span>' if v is None else esc(v)
        items.append(f"<dt>{esc(k)}</dt><dd>{value}</dd>")
    return f"<dl>{''.join(items)}</dl>"

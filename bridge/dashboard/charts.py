"""Small charts as inline SVG, drawn on the server: no script, no style attribute (the CSP allows neither inline).

Shapes carry presentation attributes (x, y, width, height) and CSS classes from static/dashboard.css. Every
value goes through Markup.format, so a label is escaped like any template value.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

WIDTH, HEIGHT = 240, 48
_SVG = Markup('<svg class="dash-chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
              'aria-label="{label}">{body}</svg>')
_BAR = Markup('<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}">'
              '<title>{tip}</title></rect>')
_ROW = Markup('<text class="chart-label" x="0" y="{ty}">{name}</text>'
              '<rect class="chart-bar" x="90" y="{y}" width="{w:.1f}" height="12"></rect>'
              '<text class="chart-label" x="{cx:.1f}" y="{ty}">{count}</text>')


def latency_bars(attempts: Sequence[tuple[bool, int]], label: str) -> Markup:
    """One bar per attempt, oldest left, its height the latency; failed attempts in the warning colour."""
    if not attempts:
        return Markup("")
    top = max(latency for _, latency in attempts) or 1
    step = WIDTH / len(attempts)
    bars = []
    for i, (ok, latency) in enumerate(attempts):
        height = max(2.0, HEIGHT * latency / top)
        bars.append(_BAR.format(cls="chart-ok" if ok else "chart-fail", x=i * step, y=HEIGHT - height,
                                w=max(step - 1, 1.0), h=height, tip=f"{latency} ms"))
    return _SVG.format(w=WIDTH, h=HEIGHT, label=label, body=Markup("").join(bars))


def count_bars(series: Sequence[tuple[str, int]], label: str) -> Markup:
    """Labelled horizontal bars (one per name), lengths relative to the largest count."""
    if not series:
        return Markup("")
    top = max(count for _, count in series) or 1
    row = 18
    parts = []
    for i, (name, count) in enumerate(series):
        width = 0.0 if not count else max(2.0, 140 * count / top)
        parts.append(_ROW.format(ty=i * row + 13, name=name, y=i * row + 3, w=width, cx=94 + width, count=count))
    return _SVG.format(w=WIDTH + 40, h=row * len(series), label=label, body=Markup("").join(parts))

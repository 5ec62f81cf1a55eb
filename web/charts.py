"""Charts of the admin's analytics as inline SVG, built on the server: no script, no CDN, allowed by the CSP.

Every text that reaches the SVG (department names, program names) goes through ``escape``, in elements and in
attributes alike, so a department named ``<script>`` is drawn as those characters. Each chart names itself with
``<title>`` and ``<desc>`` (``role="img"``, ``aria-labelledby``); the pages add a table of the same figures.
No ``style`` attributes: the CSP allows only the site's stylesheet, so colours are presentation attributes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from scheduler.admin.analytics import Heatmap

INK = "#2b2623"
MUTED = "#6f645d"
ACCENT = "#6b4226"
EMPTY = "#f3eee8"
LINE = "#e2dbd3"
LABEL_CHARS = 22
SVG_NS = "http://www.w3.org/2000/svg"


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open(chart_id: str, width: float, height: float, title: str, desc: str) -> list[str]:
    ident = escape(chart_id)
    return [
        f'<svg xmlns="{SVG_NS}" class="chart" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        'font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(desc)}</desc>',
    ]


def heatmap_svg(heatmap: Heatmap, *, chart_id: str = "heatmap") -> Markup:
    """Department × department: a square per pair of departments, darker for more meetings, the count inside."""
    names = heatmap.departments
    cell, left, top = 34, 170, 150
    size = max(len(names), 1)
    width, height = left + cell * size + 10, top + cell * size + 10
    what = "meetings people said took place" if heatmap.source == "feedback" else "meetings planned"
    desc = (f"Counts of {what} between each pair of departments; {len(names)} departments, the busiest pair "
            f"{heatmap.peak}. The same figures follow as a table.")
    parts = _open(chart_id, width, height, "Meetings between departments", desc)
    if not names:
        parts.append(f'<text x="10" y="{top}" fill="{MUTED}">No meetings yet.</text>')
    for row, a in enumerate(names):
        y = top + row * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell / 2 + 4:.0f}" text-anchor="end" fill="{INK}">'
                     f'{escape(_short(a))}</text>')
        x_label = left + row * cell + cell / 2
        parts.append(f'<text x="{x_label:.0f}" y="{top - 6}" transform="rotate(-50 {x_label:.0f} {top - 6})" '
                     f'fill="{INK}">{escape(_short(a))}</text>')
        for column, b in enumerate(names):
            count = heatmap.count(a, b)
            x = left + column * cell
            if count:
                opacity = 0.15 + 0.85 * count / heatmap.peak
                fill = f'fill="{ACCENT}" fill-opacity="{opacity:.2f}"'
            else:
                fill = f'fill="{EMPTY}"'
            parts.append(f'<g><title>{escape(a)} and {escape(b)}: {count}</title>'
                         f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" {fill} stroke="{LINE}"/>')
            if count:
                ink = "#ffffff" if count / heatmap.peak > 0.5 else INK
                parts.append(f'<text x="{x + (cell - 2) / 2:.0f}" y="{y + cell / 2 + 3:.0f}" text-anchor="middle" '
                             f'fill="{ink}">{count}</text>')
            parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


@dataclass(frozen=True)
class Series:
    """One series of bars: its name, colour and a value per label (``None``: no value, no bar)."""

    name: str
    colour: str
    values: Sequence[float | None]


def bar_chart_svg(title: str, desc: str, labels: Sequence[str], series: Sequence[Series], *, chart_id: str,
                  percent: bool = False) -> Markup:
    """Grouped vertical bars, one group per label (oldest left), with a legend; ``percent`` values are shares
    drawn on a 0–100 % axis, others on an axis up to the largest value."""
    left, top, bottom, plot_height = 44, 30, 110, 180
    group_width = max(24, 14 * len(series) + 10)
    # Labels hang down to the right of their bars, so the last one needs room beyond the plot; so does the legend.
    width = max(left + group_width * max(len(labels), 1) + 150, left + 170 * len(series) + 20)
    height = top + plot_height + bottom
    values = [v for s in series for v in s.values if v is not None]
    # Counts get an axis up to the next multiple of four, so its five ticks are whole numbers.
    peak = 1.0 if percent else float(max(4, math.ceil(max(values, default=0.0) / 4) * 4))
    parts = _open(chart_id, width, height, title, desc)
    plot_right = left + group_width * max(len(labels), 1) + 10
    baseline = top + plot_height
    for step in range(5):
        level = peak * step / 4
        y = baseline - plot_height * step / 4
        tick = f"{100 * level:.0f}%" if percent else f"{level:.0f}"
        parts.append(f'<line x1="{left}" x2="{plot_right}" y1="{y:.0f}" y2="{y:.0f}" stroke="{LINE}"/>'
                     f'<text x="{left - 6}" y="{y + 4:.0f}" text-anchor="end" fill="{MUTED}">{tick}</text>')
    bar = (group_width - 10) / max(len(series), 1)
    for index, label in enumerate(labels):
        x0 = left + index * group_width + 5
        for number, one in enumerate(series):
            value = one.values[index] if index < len(one.values) else None
            if value is None:
                continue
            bar_height = plot_height * value / peak
            shown = f"{100 * value:.0f}%" if percent else f"{value:g}"
            parts.append(f'<rect x="{x0 + number * bar:.1f}" y="{baseline - bar_height:.1f}" width="{bar - 2:.1f}" '
                         f'height="{bar_height:.1f}" fill="{escape(one.colour)}">'
                         f'<title>{escape(label)}, {escape(one.name)}: {shown}</title></rect>')
        x_label = x0 + (group_width - 10) / 2
        parts.append(f'<text x="{x_label:.0f}" y="{baseline + 14}" text-anchor="start" '
                     f'transform="rotate(40 {x_label:.0f} {baseline + 14})" fill="{INK}">'
                     f'{escape(_short(label, 28))}</text>')
    for number, one in enumerate(series):
        x = left + number * 170
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{escape(one.colour)}"/>'
                     f'<text x="{x + 18}" y="18" fill="{INK}">{escape(_short(one.name, 26))}</text>')
    if not labels:
        parts.append(f'<text x="{left + 10}" y="{baseline - 20}" fill="{MUTED}">No cycles yet.</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()

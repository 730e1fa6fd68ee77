"""The daily codes chart, rendered on the server as SVG: no charting library, nothing fetched by the browser.

Two bars per day (issued, harvested) over the days given, with a y axis scaled to the largest day and a date
label every two weeks. Every text in the SVG goes through :func:`html.escape`.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from partnership_ads.ledger import DailyCodes

WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 40
ISSUED_COLOUR, HARVESTED_COLOUR = "#1f6feb", "#e3a008"


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least ``value`` (the y axis' top)."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def daily_codes_svg(days: Sequence[DailyCodes], *, title: str = "Codes per day") -> str:
    """An SVG (as text) of codes issued and harvested per day; ``days`` oldest first."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_ceiling(max([max(d.issued, d.harvested) for d in days] + [1]))
    slot = plot_w / max(len(days), 1)
    bar = max(slot / 2 - 0.5, 0.5)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(title)}" class="daily-chart">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{WIDTH - 230}" y="6" width="10" height="10" fill="{ISSUED_COLOUR}"/>'
        f'<text x="{WIDTH - 216}" y="15" font-size="12">issued</text>'
        f'<rect x="{WIDTH - 150}" y="6" width="10" height="10" fill="{HARVESTED_COLOUR}"/>'
        f'<text x="{WIDTH - 136}" y="15" font-size="12">harvested</text>',
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        label = round(top * fraction)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#d0d7de"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{label}</text>'
        )
    for index, day in enumerate(days):
        x = LEFT + index * slot
        for offset, value, colour, what in (
            (0.0, day.issued, ISSUED_COLOUR, "issued"),
            (bar, day.harvested, HARVESTED_COLOUR, "harvested"),
        ):
            if value:
                h = plot_h * value / top
                parts.append(
                    f'<rect x="{x + offset:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" '
                    f'height="{h:.1f}" fill="{colour}" class="bar-{what}">'
                    f"<title>{escape(day.day)}: {value} {what}</title></rect>"
                )
        # A label every two weeks, and the last day's unless it would overlap the one before.
        if index % 14 == 0 or (index == len(days) - 1 and index % 14 >= 7):
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11">{escape(day.day)}</text>'
            )
    total_issued = sum(d.issued for d in days)
    total_harvested = sum(d.harvested for d in days)
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="12" class="totals">{len(days)} days: '
        f"{total_issued} issued, {total_harvested} harvested</text>"
    )
    parts.append("</svg>")
    return "".join(parts)

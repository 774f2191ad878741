"""The report's timeline chart as inline SVG, drawn in plain Python (no plotting library in the Lambda).

Throughput (left axis, Mbps) and the ICMP counts (right axis: frag-needed the hosts received, ICMP the flow
logs show REJECTed) over time, with vertical markers for the onset, the changes, the VPN flaps, the alarm
and the recovery. Input is the report's ``timeline`` dict (``dropsleuth.rules.ranking.timeline``).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from html import escape
from typing import Any

WIDTH = 960
HEIGHT = 360
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 64, 40, 56
# Five grid intervals: the 1-2-5 axis maxima divide into round ticks (50 → 10, 20 → 4, 2 → 0.4).
_GRID_STEPS = 5

_COLORS = {
    "throughput": "#1f6feb",
    "frag_needed": "#d97706",
    "icmp_rejects": "#dc2626",
    "onset": "#dc2626",
    "change": "#7c3aed",
    "flap": "#6b7280",
    "alarm": "#ea580c",
    "recovery": "#16a34a",
}
_SERIES_LABELS = {
    "throughput": "upload throughput (Mbps, left)",
    "frag_needed": "ICMP frag-needed received by hosts (right)",
    "icmp_rejects": "ICMP REJECTed toward the site, flow logs (right)",
}


def _parse(points: Any) -> list[tuple[datetime, float]]:
    parsed = []
    for item in points or []:
        try:
            at = datetime.fromisoformat(str(item[0]).replace("Z", "+00:00"))
            parsed.append((at, float(item[1])))
        except (ValueError, TypeError, IndexError):
            continue
    return sorted(parsed)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def timeline_svg(timeline: dict[str, Any], *, title: str = "Timeline") -> str:
    """The chart as an ``<svg>`` element (a short note in SVG when there is nothing to chart)."""
    throughput = _parse(timeline.get("throughput_mbps"))
    frag = _parse(timeline.get("frag_needed"))
    rejects = _parse(timeline.get("icmp_rejects"))
    markers = []
    for marker in timeline.get("markers") or []:
        try:
            at = datetime.fromisoformat(str(marker["at"]).replace("Z", "+00:00"))
        except (KeyError, ValueError, TypeError):
            continue
        markers.append((at, str(marker.get("kind", "")), str(marker.get("label", ""))))
    times = [t for t, _ in throughput + frag + rejects]
    if not times:
        return _empty(title)
    start, end = min(times), max(times)
    if end <= start:
        end = start + timedelta(minutes=1)
    plot_w = WIDTH - _LEFT - _RIGHT
    plot_h = HEIGHT - _TOP - _BOTTOM
    span = (end - start).total_seconds()

    def x(at: datetime) -> float:
        return _LEFT + plot_w * (at - start).total_seconds() / span

    # Headroom above the highest value so a saturated series still reads as a level, not a clipped bar.
    left_max = _nice_max(1.1 * max((v for _, v in throughput), default=1.0))
    right_max = _nice_max(1.25 * max((v for _, v in frag + rejects), default=1.0))

    def y_left(value: float) -> float:
        return _TOP + plot_h * (1 - value / left_max)

    def y_right(value: float) -> float:
        return _TOP + plot_h * (1 - value / right_max)

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
            f'height="{HEIGHT}" role="img" aria-label="{escape(title)}" '
            'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">'
        ),
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{_LEFT}" y="22" font-size="15" font-weight="600" fill="#111827">{escape(title)}</text>',
    ]
    parts += _grid(start, end, x, left_max=left_max, right_max=right_max, plot_h=plot_h)
    if rejects:
        parts.append(_bars(rejects, x, y_right, color=_COLORS["icmp_rejects"], plot_w=plot_w))
    if frag:
        parts.append(_polyline(frag, x, y_right, _COLORS["frag_needed"], width=2, dash="5 3"))
    if throughput:
        parts.append(_polyline(throughput, x, y_left, _COLORS["throughput"], width=2.5))
    parts += _markers([m for m in markers if start <= m[0] <= end], x)
    parts += _legend(bool(throughput), bool(frag), bool(rejects))
    if any(kind == "flap" for _, kind, _ in markers):
        parts.append(
            f'<text x="{WIDTH - _RIGHT}" y="{_TOP - 6}" text-anchor="end" fill="{_COLORS["flap"]}">'
            "▼ VPN tunnel down</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _grid(
    start: datetime, end: datetime, x: Any, *, left_max: float, right_max: float, plot_h: float
) -> list[str]:
    parts = []
    bottom = _TOP + plot_h
    for i in range(_GRID_STEPS + 1):
        fraction = i / _GRID_STEPS
        y = _TOP + plot_h * (1 - fraction)
        parts.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{WIDTH - _RIGHT}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        parts.append(
            f'<text x="{_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" fill="{_COLORS["throughput"]}">'
            f"{_fmt(left_max * fraction)}</text>"
        )
        parts.append(
            f'<text x="{WIDTH - _RIGHT + 8}" y="{y + 4:.1f}" fill="{_COLORS["icmp_rejects"]}">'
            f"{_fmt(right_max * fraction)}</text>"
        )
    span_min = (end - start).total_seconds() / 60
    step = next((s for s in (5, 10, 15, 30, 60, 120, 360) if span_min / s <= 8), 720)
    tick = start.replace(second=0, microsecond=0)
    tick += timedelta(minutes=(-tick.minute) % step)
    while tick <= end:
        tx = x(tick)
        parts.append(f'<line x1="{tx:.1f}" y1="{bottom}" x2="{tx:.1f}" y2="{bottom + 5}" stroke="#6b7280"/>')
        parts.append(
            f'<text x="{tx:.1f}" y="{bottom + 18}" text-anchor="middle" fill="#374151">'
            f"{tick.strftime('%H:%M')}</text>"
        )
        tick += timedelta(minutes=step)
    parts.append(f'<line x1="{_LEFT}" y1="{bottom}" x2="{WIDTH - _RIGHT}" y2="{bottom}" stroke="#6b7280"/>')
    parts.append(
        f'<text x="{WIDTH - _RIGHT}" y="18" text-anchor="end" fill="#6b7280">'
        f"time (UTC), {start.strftime('%Y-%m-%d')}</text>"
    )
    return parts


def _polyline(
    points: list[tuple[datetime, float]], x: Any, y: Any, color: str, *, width: float, dash: str = ""
) -> str:
    coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="{width}" '
        f'stroke-linejoin="round"{dashed}/>'
    )


def _bars(points: list[tuple[datetime, float]], x: Any, y: Any, *, color: str, plot_w: float) -> str:
    count = len(points)
    bar = max(1.0, min(8.0, plot_w / max(count, 1) * 0.6))
    base = y(0.0)
    rects = [
        f'<rect x="{x(t) - bar / 2:.1f}" y="{y(v):.1f}" width="{bar:.1f}" '
        f'height="{max(0.0, base - y(v)):.1f}"/>'
        for t, v in points
        if v > 0
    ]
    return f'<g fill="{color}" fill-opacity="0.45">{"".join(rects)}</g>'


def _markers(markers: list[tuple[datetime, str, str]], x: Any) -> list[str]:
    parts = []
    bottom = HEIGHT - _BOTTOM
    label_rows: dict[int, float] = {}
    for at, kind, label in sorted(markers):
        color = _COLORS.get(kind, "#374151")
        mx = x(at)
        if kind == "flap":
            parts.append(
                f'<path d="M{mx - 5:.1f},{_TOP - 2} L{mx + 5:.1f},{_TOP - 2} L{mx:.1f},{_TOP + 7}Z" '
                f'fill="{color}"><title>{escape(label)} {at:%H:%M}</title></path>'
            )
            continue
        width = 2 if kind in {"onset", "change"} else 1.5
        parts.append(
            f'<line x1="{mx:.1f}" y1="{_TOP}" x2="{mx:.1f}" y2="{bottom}" stroke="{color}" '
            f'stroke-width="{width}" stroke-dasharray="6 4"/>'
        )
        # Stack labels that would overlap into separate rows.
        row = 0
        while label_rows.get(row, -1e9) > mx - 90:
            row += 1
        label_rows[row] = mx
        parts.append(
            f'<text x="{mx + 4:.1f}" y="{_TOP + 14 + 14 * row}" fill="{color}" font-weight="600">'
            f"{escape(label)} {at:%H:%M}</text>"
        )
    return parts


def _legend(throughput: bool, frag: bool, rejects: bool) -> list[str]:
    shown = [
        n for n, on in (("throughput", throughput), ("frag_needed", frag), ("icmp_rejects", rejects)) if on
    ]
    parts = []
    lx = float(_LEFT)
    ly = HEIGHT - 10
    for name in shown:
        label = _SERIES_LABELS[name]
        opacity = 0.45 if name == "icmp_rejects" else 1
        parts.append(
            f'<rect x="{lx:.1f}" y="{ly - 9}" width="14" height="10" fill="{_COLORS[name]}" '
            f'fill-opacity="{opacity}"/>'
        )
        parts.append(f'<text x="{lx + 18:.1f}" y="{ly}" fill="#374151">{escape(label)}</text>')
        lx += 18 + 6.4 * len(label) + 20
    return parts


def _empty(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} 80" width="{WIDTH}" height="80" '
        f'role="img" aria-label="{escape(title)}" font-family="system-ui, sans-serif" font-size="13">'
        f'<text x="12" y="30" font-weight="600">{escape(title)}</text>'
        '<text x="12" y="56" fill="#6b7280">No time series were available for this window '
        "(no host metrics, no flow-log throughput).</text></svg>"
    )


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"

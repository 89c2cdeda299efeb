"""A job's runs as SVG geometry (bytes as bars, files as a line, failures marked); pure."""

from __future__ import annotations

from dataclasses import dataclass

from ctrlops.services.overview import RunView

WIDTH, HEIGHT, PAD = 640, 160, 24


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    cx: float  # centre, for the files point and the failure mark
    files_y: float
    failed: bool
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    pad: int
    bars: list[Bar]
    files_points: str
    max_bytes: int
    max_files: int


def run_chart(runs: list[RunView]) -> Chart | None:
    """Return the chart of ``runs`` (oldest first), None when there is nothing to draw."""
    if not runs:
        return None
    max_bytes = max(r.bytes for r in runs) or 1
    max_files = max(r.files for r in runs) or 1
    plot_h = HEIGHT - 2 * PAD
    step = (WIDTH - 2 * PAD) / len(runs)
    bars = []
    for i, r in enumerate(runs):
        h = plot_h * r.bytes / max_bytes
        x = PAD + i * step
        cx = x + step / 2
        started = f"{r.started:%Y-%m-%d %H:%M}" if r.started else "?"
        bars.append(
            Bar(
                round(x + step * 0.15, 1),
                round(HEIGHT - PAD - h, 1),
                round(step * 0.7, 1),
                round(h, 1),
                round(cx, 1),
                round(HEIGHT - PAD - plot_h * r.files / max_files, 1),
                r.is_failure,
                f"{started}: {r.state}, {r.files} files, {r.bytes} bytes",
            )
        )
    points = " ".join(f"{b.cx},{b.files_y}" for b in bars)
    return Chart(WIDTH, HEIGHT, PAD, bars, points, max_bytes, max_files)

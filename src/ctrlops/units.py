"""How quantities are shown to people."""

from __future__ import annotations


def human_size(n: int | None) -> str:
    """Return ``n`` bytes as people read it: ``512 B``, ``1.5 KiB`` ... ``3.2 TiB``."""
    value = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"

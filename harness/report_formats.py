"""Report formats beyond JSON and Markdown (JUnit XML, CSV, HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ALL_FORMATS: tuple[str, ...] = ("json", "md")


def write_extra_formats(out: Path, report: dict[str, Any], formats: list[str]) -> list[Path]:
    """Write the formats other than json and md; none exist yet."""
    return []

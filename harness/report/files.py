"""Report files: what a format renders, the names of the per-submission files, and the atomic write."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

Rendered = list[tuple[str, str]]  # (path inside the report folder, with "/" between parts; text)
SUBMISSIONS = "submissions"  # the folder of the per-submission pages


def file_stem(submission: str) -> str:
    """The stem of a submission's own report files: its path with anything odd as ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", submission.strip("/")).strip("_") or "submission"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

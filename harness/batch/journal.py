"""The journal: an append-only, fsync'd file of finished verdicts, what ``--resume`` reads back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import cast

from harness.records.report import VerdictData

JOURNAL = "journal.jsonl"


class Journal:
    """Append-only, fsync'd record of finished verdicts; what ``--resume`` reads back."""

    def __init__(self, out: Path) -> None:
        self.path = out / JOURNAL

    def done(self) -> dict[tuple[str, str], VerdictData]:
        """Finished verdicts by (submission, digest).

        A torn last line (the grader was killed mid-write) is cut off the file, so that
        the next verdict appended starts a line of its own; that submission is graded again.
        """
        found: dict[tuple[str, str], VerdictData] = {}
        if not self.path.exists():
            return found
        raw = self.path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            raw = raw[: raw.rfind(b"\n") + 1]
            with open(self.path, "r+b") as f:
                f.truncate(len(raw))
                os.fsync(f.fileno())
        for line in raw.decode("utf-8", errors="replace").splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and "submission" in data:
                found[(str(data["submission"]), str(data.get("digest", "")))] = cast(VerdictData, data)
        return found

    def append(self, data: VerdictData) -> None:
        line = canonical_line(data)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # the new file's name must survive a crash too
            _fsync_dir(self.path.parent)

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)


def canonical_line(data: VerdictData) -> str:
    """A verdict as one journal line (no NaN, anything odd as text)."""
    return json.dumps(data, allow_nan=False, default=str) + "\n"


def canonical(data: VerdictData) -> VerdictData:
    """A verdict exactly as the journal gives it back, so that a resumed batch reports what an
    uninterrupted one does (tuples become lists, and so on)."""
    value: VerdictData = json.loads(canonical_line(data))
    return value


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

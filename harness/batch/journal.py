"""The journal: an append-only, fsync'd file of finished verdicts, what ``--resume`` reads back.

Its lines are valid UTF-8 whatever a submission printed or is named (:func:`canonical_line`), and
the file is its owner's alone (0600; ``gradproof grade --group`` shares it once the batch is done).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, cast

from harness.records.report import VerdictData, valid_data, valid_text

JOURNAL = "journal.jsonl"
MODE = 0o600  # the journal holds every student's output: its owner's alone


class Done(dict[tuple[str, str], VerdictData]):
    """Finished verdicts by (submission, digest), as the journal names them: in valid Unicode.

    Looked up by the name the batch has, which may not be (a file name that is not UTF-8), so
    that such a submission is found, not graded again.
    """

    def __contains__(self, key: object) -> bool:
        if isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key):
            key = _valid_key(key)
        return super().__contains__(key)

    def __missing__(self, key: tuple[str, str]) -> VerdictData:
        valid = _valid_key(key)
        if valid != key and super().__contains__(valid):
            return super().__getitem__(valid)
        raise KeyError(key)


def _valid_key(key: tuple[str, str]) -> tuple[str, str]:
    return (valid_text(key[0]), valid_text(key[1]))


class Journal:
    """Append-only, fsync'd record of finished verdicts; what ``--resume`` reads back."""

    def __init__(self, out: Path) -> None:
        self.path = out / JOURNAL

    def done(self) -> Done:
        """Finished verdicts by (submission, digest).

        A torn last line (the grader was killed mid-write) is cut off the file, so that
        the next verdict appended starts a line of its own; that submission is graded again.
        """
        found = Done()
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
                data = valid_data(json.loads(line))  # a journal an older gradproof wrote may not be valid
            except ValueError:
                continue
            if isinstance(data, dict) and "submission" in data:
                found[(str(data["submission"]), str(data.get("digest", "")))] = cast(VerdictData, data)
        return found

    def append(self, data: VerdictData) -> None:
        self.append_lines([canonical_line(data)])

    def append_lines(self, lines: list[str]) -> None:
        """Append verdict lines (each a :func:`canonical_line`): one write, one fsync for the group.

        Durable when this returns (a verdict is counted as done only after): a group is what
        arrived together, never held back waiting for more.
        """
        if not lines:
            return
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, MODE)
        try:
            data = memoryview("".join(lines).encode())
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # the new file's name must survive a crash too
            _fsync_dir(self.path.parent)

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)


def canonical_line(data: VerdictData) -> str:
    """A verdict as one journal line: valid UTF-8 (:func:`~harness.records.report.valid_text`),
    no NaN, anything odd as text."""
    return json.dumps(valid_data(data), allow_nan=False, default=_as_text) + "\n"


def _as_text(value: Any) -> str:
    return valid_text(str(value))


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

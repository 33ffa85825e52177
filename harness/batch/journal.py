"""The journal: an append-only, fsync'd file of finished verdicts, what ``--resume`` reads back.

Its lines are valid UTF-8 whatever a submission printed or is named (:func:`canonical_line`), and
the file is its owner's alone (0600; ``gradproof grade --group`` shares it once the batch is done).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

from harness.records.report import VerdictData, valid_data, valid_text

JOURNAL = "journal.jsonl"
MODE = 0o600  # the journal holds every student's output: its owner's alone


_T = TypeVar("_T")


class ByKey(dict[tuple[str, str], _T]):
    """What the journal holds by (submission, digest), as it names them: in valid Unicode.

    Looked up by the name the batch has, which may not be (a file name that is not UTF-8), so
    that such a submission is found, not graded again.
    """

    def __contains__(self, key: object) -> bool:
        if isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key):
            key = _valid_key(key)
        return super().__contains__(key)

    def __missing__(self, key: tuple[str, str]) -> _T:
        valid = _valid_key(key)
        if valid != key and super().__contains__(valid):
            return super().__getitem__(valid)
        raise KeyError(key)


class Done(ByKey[VerdictData]):
    """Finished verdicts by (submission, digest) (see :class:`ByKey`)."""


@dataclass(frozen=True)
class Entry:
    """One verdict's line in the journal: where it is (bytes), and the verdict itself."""

    key: tuple[str, str]
    offset: int
    length: int
    data: VerdictData


def _valid_key(key: tuple[str, str]) -> tuple[str, str]:
    return (valid_text(key[0]), valid_text(key[1]))


class Journal:
    """Append-only, fsync'd record of finished verdicts; what ``--resume`` reads back."""

    def __init__(self, out: Path) -> None:
        self.path = out / JOURNAL
        self._reader: int | None = None

    def done(self) -> Done:
        """Finished verdicts by (submission, digest).

        A torn last line (the grader was killed mid-write) is cut off the file, so that
        the next verdict appended starts a line of its own; that submission is graded again.
        """
        found = Done()
        for entry in self.entries():
            found[entry.key] = entry.data
        return found

    def entries(self) -> Iterator[Entry]:
        """Every finished verdict with its place in the file, one line at a time (never the whole
        file in memory); a torn last line is cut off first, as :meth:`done` says."""
        if not self.path.exists():
            return
        with open(self.path, "r+b") as f:
            size = f.seek(0, os.SEEK_END)
            if size:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    whole = _last_line_end(f, size)
                    f.truncate(whole)
                    os.fsync(f.fileno())
            f.seek(0)
            offset = 0
            for raw in f:
                if not raw.endswith(b"\n"):
                    break
                data = _parse(raw)
                if data is not None:
                    yield Entry((str(data["submission"]), str(data.get("digest", ""))), offset, len(raw), data)
                offset += len(raw)

    def read_at(self, offset: int, length: int) -> VerdictData:
        """The verdict of the line at ``offset`` (as :meth:`entries` or :meth:`append_lines` said)."""
        return self._verdict(self._raw_at(offset, length), offset)

    def line_at(self, offset: int, length: int) -> str:
        """The line at ``offset`` as :func:`canonical_line` writes its verdict (this gradproof's
        lines are, read as they are; an older one's is read and written again)."""
        raw = self._raw_at(offset, length)
        if raw.endswith(b"\n") and raw.startswith(b'{"submission": ') and not _MAYBE_SURROGATE.search(raw):
            try:
                return raw.decode("ascii")
            except UnicodeDecodeError:
                pass
        return canonical_line(self._verdict(raw, offset))

    def _raw_at(self, offset: int, length: int) -> bytes:
        if self._reader is None:
            self._reader = os.open(self.path, os.O_RDONLY)
        return os.pread(self._reader, length, offset)

    def _verdict(self, raw: bytes, offset: int) -> VerdictData:
        data = _parse(raw)
        if data is None:
            raise ValueError(f"{self.path}: no verdict at byte {offset}")
        return data

    def close(self) -> None:
        if self._reader is not None:
            os.close(self._reader)
            self._reader = None

    def append(self, data: VerdictData) -> None:
        self.append_lines([canonical_line(data)])

    def append_lines(self, lines: list[str]) -> list[tuple[int, int]]:
        """Append verdict lines (each a :func:`canonical_line`): one write, one fsync for the group.

        Durable when this returns (a verdict is counted as done only after): a group is what
        arrived together, never held back waiting for more.
        """
        if not lines:
            return []
        created = not self.path.exists()
        encoded = [line.encode() for line in lines]
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, MODE)
        try:
            offset = os.fstat(fd).st_size  # the batch is the journal's one writer
            data = memoryview(b"".join(encoded))
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # the new file's name must survive a crash too
            _fsync_dir(self.path.parent)
        places = []
        for line in encoded:
            places.append((offset, len(line)))
            offset += len(line)
        return places

    def reset(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def _last_line_end(f: BinaryIO, size: int) -> int:
    """Where the last whole line of ``f`` (``size`` bytes) ends: 0 if it has none."""
    end = size
    while end > 0:
        start = max(0, end - (1 << 16))
        f.seek(start)
        chunk = f.read(end - start)
        found = chunk.rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


# A JSON escape that may be a lone surrogate (\\ud800 to \\udfff); a line without one holds none,
# as it is decoded with errors="replace": valid_data would give it back unchanged.
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _parse(raw: bytes) -> VerdictData | None:
    """One journal line's verdict (``None`` if the line holds none)."""
    try:
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    if _MAYBE_SURROGATE.search(raw):
        data = valid_data(data)  # an older gradproof's line may not be valid
    if isinstance(data, dict) and "submission" in data:
        return cast(VerdictData, data)
    return None


def canonical_line(data: VerdictData) -> str:
    """A verdict as one journal line: valid UTF-8 (:func:`~harness.records.report.valid_text`),
    no NaN, anything odd as text."""
    line = json.dumps(data, allow_nan=False, default=_as_text)
    if _MAYBE_SURROGATE.search(line.encode()):  # only then is there a string valid_data would change
        line = json.dumps(valid_data(data), allow_nan=False, default=_as_text)
    return line + "\n"


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

"""A course roster (``gradproof grade --roster FILE``): which student each submission is.

The roster is a CSV file with a header row.  Its columns, by name (order does not matter, other
columns are ignored):

* ``submission`` (required): the submission's path **relative to the folder that was graded**
  (``alice.py``, ``alice/hw1.ipynb``), with ``/`` between parts; or a folder there (``alice``),
  which names every submission below it.  A file given to ``grade`` directly is named by its file
  name.  No globs: a name is matched exactly (letter case too), never as a pattern.
* ``student_id`` (required): for ``--format canvas``, the student's **Canvas user ID** (the
  ``ID`` column of a Canvas gradebook export);
* ``name``, ``section`` (required, may be empty);
* ``sis_user_id``, ``sis_login_id`` (optional): copied to Canvas's columns;
* ``due`` (optional): the due date (ISO 8601; no time zone: UTC), for ``--late-policy``;
* ``submitted`` (optional): when it was handed in (ISO 8601); where it is empty, the
  submission file's modification time stands for it.

Validated before anything is graded: a missing file, a missing column, an empty or duplicate
``submission``, a duplicate ``student_id`` or a date that is not ISO 8601 is a one-line
:class:`~harness.errors.UsageError` (exit 2).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from harness.errors import UsageError, invalid
from harness.records.report import RosterData, StudentData, VerdictData

REQUIRED = ("submission", "student_id", "name", "section")
OPTIONAL = ("sis_user_id", "sis_login_id", "due", "submitted")


def parse_time(text: str, what: str) -> datetime:
    """An ISO 8601 date or time as an aware UTC datetime (no zone given: UTC)."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{what}={text!r}: expected an ISO 8601 date or time, e.g. 2026-03-01T23:59:00+00:00"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


@dataclass(frozen=True)
class Row:
    student: StudentData
    due: datetime | None = None
    submitted: datetime | None = None


@dataclass
class Roster:
    file: str
    rows: dict[str, Row] = field(default_factory=dict)  # by its normalised submission key

    def match(self, relative: str) -> Row | None:
        """The row naming ``relative`` (a submission's path in the graded folder): the file
        itself, else the nearest folder above it."""
        parts = PurePosixPath(relative).parts
        for n in range(len(parts), 0, -1):
            row = self.rows.get("/".join(parts[:n]))
            if row is not None:
                return row
        return None


def _key(text: str) -> str:
    key = text.strip().replace("\\", "/")
    while key.startswith("./"):
        key = key[2:]
    return key.strip("/")


def load_roster(path: Path) -> Roster:
    """Read and validate the roster at ``path`` (see the module's docs)."""
    if not path.is_file():
        invalid("roster", str(path), "no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        invalid("roster", str(path), f"cannot be read as UTF-8 CSV ({type(exc).__name__})")
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        invalid(
            "roster", str(path), f"has no column {', '.join(missing)} (its header row must name {', '.join(REQUIRED)})"
        )
    roster = Roster(file=path.name)
    ids: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        cells = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in raw.items()}
        if not any(cells.values()):
            continue  # a blank line
        key = _key(cells.get("submission", ""))
        where = f"roster line {line}"
        if not key:
            raise UsageError(f"roster={str(path)!r}: {where} has an empty submission")
        if any(c in key for c in "*?["):
            raise UsageError(
                f"roster={str(path)!r}: {where}: submission={key!r} is a pattern; name the file or folder exactly"
            )
        if key in roster.rows:
            raise UsageError(f"roster={str(path)!r}: {where}: submission={key!r} is named twice")
        sid = cells.get("student_id", "")
        if not sid:
            raise UsageError(f"roster={str(path)!r}: {where} has an empty student_id")
        if sid in ids:
            raise UsageError(f"roster={str(path)!r}: {where}: student_id={sid!r} is on line {ids[sid]} too")
        ids[sid] = line
        due = parse_time(cells["due"], f"{where} due") if cells.get("due") else None
        submitted = parse_time(cells["submitted"], f"{where} submitted") if cells.get("submitted") else None
        student: StudentData = {
            "submission": key,
            "student_id": sid,
            "name": cells.get("name", ""),
            "section": cells.get("section", ""),
            "sis_user_id": cells.get("sis_user_id", ""),
            "sis_login_id": cells.get("sis_login_id", ""),
        }
        roster.rows[key] = Row(student, due, submitted)
    return roster


def relative_names(files: list[Path], paths: list[Path]) -> dict[str, str]:
    """Each file's name as the roster gives it: its path inside the graded folder it came from
    (``/`` between parts), or its file name where it was given as a file."""
    folders = [p for p in paths if p.is_dir()]
    names: dict[str, str] = {}
    for file in files:
        name = file.name
        for folder in folders:
            try:
                name = file.relative_to(folder).as_posix()
                break
            except ValueError:
                continue
        names[str(file)] = name
    return names


def attach(
    verdicts: list[VerdictData], roster: Roster, names: dict[str, str], canvas_assignment: str | None
) -> tuple[RosterData, dict[str, Row]]:
    """Give each verdict its roster row (``student``); returns the report's ``roster`` (what was
    unmatched, who is absent) and each matched submission's row."""
    unmatched: list[str] = []
    matched: dict[str, Row] = {}
    for verdict in verdicts:
        row = roster.match(names.get(verdict["submission"], Path(verdict["submission"]).name))
        if row is None:
            unmatched.append(verdict["submission"])
        else:
            verdict["student"] = dict(row.student)  # type: ignore[typeddict-item]
            matched[verdict["submission"]] = row
    seen = {row.student["submission"] for row in matched.values()}
    absent = [dict(r.student) for k, r in roster.rows.items() if k not in seen]
    data: RosterData = {
        "file": roster.file,
        "unmatched": unmatched,
        "absent": absent,  # type: ignore[typeddict-item]
        "canvas_assignment": canvas_assignment,
    }
    return data, matched

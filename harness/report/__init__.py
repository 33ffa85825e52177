"""Stage 5, report: verdicts as ``report.json`` and the other report formats, one module each.

Every report is built from the verdicts' plain data (the ``report.json``
schema, :mod:`harness.records.report`), so a resumed or merged batch writes
exactly what one run would.  Files are written atomically (a temporary file,
then ``os.replace``), 0600 or given to one group (:class:`~harness.report.files.Access`).
Whatever a submission printed, raised or is named, every format can be
written: the data is made valid Unicode first, and each format escapes it for
its own syntax (:mod:`~harness.report.escape`).

:data:`FORMATS` is the one registry: a format's name → what it renders, a list
of ``(path inside the report folder, text)``.  A new format is one module with a
``render(report)`` and one entry here.  The modules:

* :mod:`~harness.report.files`: the atomic write, who may read it, the names of per-submission files;
* :mod:`~harness.report.escape`: a submission's text made safe for each format and the terminal;
* :mod:`~harness.report.text`: the plain-text renderings the formats (and the
  course platforms, the CLI, the pytest plugin) share;
* :mod:`~harness.report.data`: the report's top level (:func:`report_data`) and
  the check columns;
* one module per format: ``json`` (:mod:`~harness.report.json_file`), ``md``
  (:mod:`~harness.report.markdown`), ``html`` (:mod:`~harness.report.html_pages`),
  ``junit`` (:mod:`~harness.report.junit`), ``csv`` (:mod:`~harness.report.csv_file`),
  ``classroom`` (:mod:`~harness.report.classroom`, GitHub Classroom's autograding reporter).

Nothing here imports torch or the grader.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import cast

from harness.errors import invalid
from harness.records.report import ReportData, VerdictData, valid_data, valid_text
from harness.report import canvas, classroom, csv_file, html_pages, json_file, junit, markdown, notebook
from harness.report.files import (
    PRIVATE,
    Access,
    Rendered,
    make_folder,
    pages_of,
    submission_pages,
    write_atomic,
    write_atomic_chunks,
)

FORMATS: dict[str, Callable[[ReportData], Rendered]] = {
    "json": json_file.render,
    "md": markdown.render,
    "html": html_pages.render,
    "junit": junit.render,
    "csv": csv_file.render,
    "classroom": classroom.render,
    "canvas": canvas.render,
    "notebook": notebook.render,
}
ALL_FORMATS: tuple[str, ...] = tuple(FORMATS)
ALWAYS = "json"  # report.json is always written: every other format (and a merge, a resume) reads it
DEFAULT_FORMATS: tuple[str, ...] = ("json", "md")


def _known(name: str) -> str:
    if name not in FORMATS:
        invalid("format", name, f"expected a comma-separated list of {', '.join(ALL_FORMATS)}")
    return name


def parse_formats(text: str) -> tuple[str, ...]:
    """``"json,md"`` → ``("json", "md")``; json is always written."""
    wanted = [_known(f.strip().lower()) for f in text.split(",") if f.strip()]
    return tuple(dict.fromkeys([ALWAYS, *wanted]))


def write_reports(
    out: Path, report: ReportData, formats: Iterable[str] = DEFAULT_FORMATS, access: Access = PRIVATE
) -> list[Path]:
    """Write json and every other format asked for into ``out``, each file with ``access``;
    returns the files written."""
    names = dict.fromkeys([ALWAYS, *(_known(f) for f in formats)])
    valid = cast(ReportData, valid_data(report))
    written: list[Path] = []
    for name in names:
        for relative, text in FORMATS[name](valid):
            path = out / relative
            write_atomic(path, text, access)
            written.append(path)
    _give_folders(out, written, access)
    return written


def _give_folders(out: Path, written: list[Path], access: Access) -> None:
    for folder in dict.fromkeys(p.parent for p in written):
        if folder != out:  # submissions/: gradproof's own, so given the access however it was made
            access.give_folder(folder)


_WRITERS = 4  # threads writing a streamed report's pages
STREAMED: tuple[str, ...] = ("json", "md")  # the formats :func:`write_reports_streamed` writes


class Pages:
    """Each submission's md page, rendered and written (by a few threads: their fsyncs overlap
    instead of queueing) as its verdict arrives, while the batch runs: the report's writing after
    the last verdict is then report.json and summary.md alone.

    ``submissions``: the batch's names, in order (a page's name depends on all of them, as
    :func:`~harness.report.files.submission_pages` says); ``report``: the report's top level (what
    a page shows of it: the tool, its version, the assignment).
    """

    def __init__(self, out: Path, submissions: list[str], report: ReportData, access: Access = PRIVATE) -> None:
        self.out, self.access = out, access
        self.report = cast(ReportData, valid_data(report))
        names = [valid_text(s) for s in submissions]
        self.pages = pages_of(names, markdown.SUFFIX)
        self._places: dict[str, list[int]] = {}
        for n, name in enumerate(names):
            self._places.setdefault(name, []).append(n)
        self.written: set[int] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._flight: deque[Future[None]] = deque()

    def add(self, verdict: VerdictData) -> None:
        """Write the page of ``verdict`` (already valid: the journal gives it back so): the first of
        its name's not written yet (a name given twice is the same file, graded the same)."""
        place = next((n for n in self._places.get(str(verdict["submission"]), []) if n not in self.written), None)
        if place is not None:
            self.write(place, markdown.markdown(verdict, self.report))

    def write(self, n: int, text: str) -> None:
        """Write submission ``n``'s page (a thread does; at most a few are in flight)."""
        if self._pool is None:
            make_folder((self.out / self.pages[0]).parent, self.access)
            self._pool = ThreadPoolExecutor(_WRITERS, thread_name_prefix="gradproof-report")
        self._flight.append(self._pool.submit(write_atomic, self.out / self.pages[n], text, self.access))
        self.written.add(n)
        while len(self._flight) >= 4 * _WRITERS:
            self._flight.popleft().result()

    def close(self) -> None:
        """Wait for every page to be written (a failed write raises here)."""
        try:
            while self._flight:
                self._flight.popleft().result()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None


def write_reports_streamed(
    out: Path,
    report: ReportData,
    lines: Callable[[], Iterator[str]],
    formats: Iterable[str] = DEFAULT_FORMATS,
    access: Access = PRIVATE,
    pages: Pages | None = None,
) -> list[Path]:
    """:func:`write_reports` for a batch too large to hold: the same files, byte for byte, written
    one verdict at a time.

    ``report``'s ``submissions`` are each verdict's slim form (what ``summary`` and
    ``summary.md`` read: see :func:`harness.batch.slim`); ``lines()`` gives the whole ones, in
    the same order, each time it is called, each as its journal line
    (:func:`~harness.batch.journal.canonical_line`: valid, its seconds last or absent), which
    report.json copies (:func:`~harness.report.json_file.timeless_text`).  ``pages``: the md
    pages written already as the verdicts came (:class:`Pages`); those it lacks are written
    here.  Only the :data:`STREAMED` formats.
    """
    names = dict.fromkeys([ALWAYS, *(_known(f) for f in formats)])
    if not set(names) <= set(STREAMED):
        invalid("formats", ",".join(names), f"only {', '.join(STREAMED)} are written streamed")
    valid = cast(ReportData, valid_data(report))
    path = out / json_file.REPORT_FILE
    if "md" not in names:
        pages = None
    elif pages is None:
        pages = Pages(out, [v["submission"] for v in valid["submissions"]], valid, access)
    elif pages.pages != submission_pages(valid, markdown.SUFFIX):
        invalid("pages", pages.out, "were made for other submissions than the report's")
    try:

        def texts() -> Iterator[str]:
            for n, line in enumerate(lines()):
                if pages is not None and n not in pages.written and n < len(pages.pages):
                    pages.write(n, markdown.markdown(cast(VerdictData, json.loads(line)), pages.report))
                yield json_file.timeless_text(line)

        write_atomic_chunks(path, json_file.report_chunks(valid, texts()), access)
    finally:
        if pages is not None:
            pages.close()
    written = [path, *(out / p for p in (pages.pages if pages is not None else []))]
    if "md" in names:
        path = out / markdown.SUMMARY_FILE
        write_atomic(path, markdown.summary_markdown(valid), access)
        written.append(path)
    _give_folders(out, written, access)
    return written

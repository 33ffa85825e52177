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
from harness.records.report import ReportData, VerdictData, valid_data
from harness.report import canvas, classroom, csv_file, html_pages, json_file, junit, markdown, notebook
from harness.report.files import (
    PRIVATE,
    Access,
    Rendered,
    make_folder,
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
_PLACE = "\x00gradproof: the verdicts go here\x00"


def write_reports_streamed(
    out: Path,
    report: ReportData,
    verdicts: Callable[[], Iterator[VerdictData]],
    formats: Iterable[str] = DEFAULT_FORMATS,
    access: Access = PRIVATE,
) -> list[Path]:
    """:func:`write_reports` for a batch too large to hold: the same files, byte for byte, written
    one verdict at a time.

    ``report``'s ``submissions`` are each verdict's slim form (what ``summary`` and
    ``summary.md`` read: see :func:`harness.batch.slim`); ``verdicts()`` gives the whole ones,
    in the same order, each time it is called, each already valid
    (:func:`~harness.records.report.valid_data`: the journal gives them back so).  Only the
    :data:`STREAMED` formats.
    """
    names = dict.fromkeys([ALWAYS, *(_known(f) for f in formats)])
    if not set(names) <= set(STREAMED):
        invalid("formats", ",".join(names), f"only {', '.join(STREAMED)} are written streamed")
    valid = cast(ReportData, valid_data(report))
    # report.json: the report around a placeholder, and each verdict put in its place as
    # json.dumps(..., indent=2) puts an item of a list that is a value of the top level.  The md
    # pages are rendered in the same pass over the verdicts (each read once) and written (each
    # fsync'd) by a few threads: the fsyncs of a large batch's pages overlap instead of queueing.
    around = json_file.report_json_of_valid(cast(ReportData, {**valid, "submissions": [_PLACE]}))
    place = '\n    "' + json.dumps(_PLACE)[1:-1] + '"\n'
    path = out / json_file.REPORT_FILE
    pages = submission_pages(valid, markdown.SUFFIX) if "md" in names else []
    if pages:
        make_folder((out / pages[0]).parent, access)
    with ThreadPoolExecutor(_WRITERS, thread_name_prefix="gradproof-report") as pool:
        flight: deque[Future[None]] = deque()

        def page(n: int, verdict: VerdictData) -> None:
            if n < len(pages):
                flight.append(pool.submit(write_atomic, out / pages[n], markdown.markdown(verdict, valid), access))
                while len(flight) >= 4 * _WRITERS:
                    flight.popleft().result()

        if valid["submissions"]:
            head, tail = around.split(place, 1)

            def chunks() -> Iterator[str]:
                yield head
                for n, verdict in enumerate(verdicts()):
                    page(n, verdict)
                    yield ("\n" if n == 0 else ",\n") + "    " + json_file.dumps(verdict, level=2)
                yield "\n" + tail

            write_atomic_chunks(path, chunks(), access)
        else:
            write_atomic(path, json_file.report_json_of_valid(valid), access)
        for done in flight:
            done.result()
    written = [path, *(out / p for p in pages)]
    if "md" in names:
        path = out / markdown.SUMMARY_FILE
        write_atomic(path, markdown.summary_markdown(valid), access)
        written.append(path)
    _give_folders(out, written, access)
    return written

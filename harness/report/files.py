"""Report files: what a format renders, the names of the per-submission pages, who may read them,
and the atomic write.

A submission's pages (``submissions/<stem>.md``, ``.html``) are named by :func:`page_stems`: one
page per submission, always.  Every file is written 0600 (its owner's alone), or 0640 and given to
one group (:func:`group_access`, ``gradproof grade --group``); a folder gradproof creates is 0700
(0750).
"""

from __future__ import annotations

import grp
import hashlib
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import invalid
from harness.records.report import ReportData, valid_text

Rendered = list[tuple[str, str]]  # (path inside the report folder, with "/" between parts; text)
SUBMISSIONS = "submissions"  # the folder of the per-submission pages

_LONGEST = 100  # a page's stem at most this long (a file name has at most 255 bytes)


def display_names(names: list[str]) -> list[str]:
    """The submissions' names without the folder they all share: ``subs/a.py``, ``subs/b.py`` →
    ``a.py``, ``b.py``."""
    parents = [Path(n).parent.parts for n in names]
    common = 0
    if parents:
        for level in zip(*parents):
            if len(set(level)) != 1:
                break
            common += 1
    return [str(Path(*Path(n).parts[common:])) if len(Path(n).parts) > common else n for n in names]


def _readable(name: str) -> str:
    """A name as a file stem: ASCII letters, digits and ``. _ -``, anything else as ``_``; never
    hidden, never an option."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", valid_text(name).strip("/")).strip("_").lstrip("._-")
    return stem or "submission"


def _digest(submission: str) -> str:
    return hashlib.sha256(valid_text(submission).encode("utf-8")).hexdigest()[:8]


def page_stems(submissions: list[str]) -> list[str]:
    """The stem of each submission's own report pages, in order: one page per submission, always.

    A stem is the submission's path inside the folder the batch shares (:func:`display_names`),
    anything odd as ``_``.  Where two stems would be the same file (``alice_smith.py`` and
    ``alice~smith.py``; letter case aside, as on macOS), each gets ``-`` and a short digest of its
    full path; so does a stem cut to its last 80 characters.  The same batch gives the same names.
    """
    bases = [_readable(name) for name in display_names(submissions)]
    long = [len(b) > _LONGEST for b in bases]
    bases = [(b[-80:].lstrip("._-") or "submission") if cut else b for b, cut in zip(bases, long)]
    count = Counter(b.lower() for _, b in dict.fromkeys(zip(submissions, bases)))  # of distinct paths
    stems: list[str] = []
    taken: set[str] = set()
    for submission, base, cut in zip(submissions, bases, long):
        stem = f"{base}-{_digest(submission)}" if cut or count[base.lower()] > 1 else base
        name, n = stem, 2
        while name.lower() in taken:  # the same path twice, or a digest that meets another name
            name, n = f"{stem}-{n}", n + 1
        taken.add(name.lower())
        stems.append(name)
    return stems


def submission_pages(report: ReportData, suffix: str) -> list[str]:
    """Each submission's page in the report folder, in order: ``submissions/<stem><suffix>``."""
    return pages_of([v["submission"] for v in report["submissions"]], suffix)


def pages_of(submissions: list[str], suffix: str) -> list[str]:
    """:func:`submission_pages` of these names (valid Unicode, as a report holds them)."""
    return [f"{SUBMISSIONS}/{stem}{suffix}" for stem in page_stems(submissions)]


@dataclass(frozen=True)
class Access:
    """Who may read what gradproof writes: its owner alone (0600), or one group too (0640)."""

    gid: int | None = None  # the group given the files; None: nobody but their owner

    @property
    def mode(self) -> int:
        return 0o600 if self.gid is None else 0o640

    @property
    def folder_mode(self) -> int:
        return 0o700 if self.gid is None else 0o750

    def give(self, path: Path) -> None:
        """Give ``path``, a file gradproof wrote, this access."""
        if self.gid is not None:
            os.chown(path, -1, self.gid)
        os.chmod(path, self.mode)

    def give_folder(self, folder: Path) -> None:
        """Give ``folder``, one gradproof fills (``submissions/``), this access's folder mode."""
        if self.gid is not None:
            os.chown(folder, -1, self.gid)
        os.chmod(folder, self.folder_mode)

    def give_fd(self, fd: int) -> None:
        """Give the open file ``fd`` this access."""
        if self.gid is not None:
            os.fchown(fd, -1, self.gid)
        os.fchmod(fd, self.mode)


PRIVATE = Access()


def group_access(group: str | None) -> Access:
    """``--group NAME``: the access that gives the files to group NAME (0640); none: :data:`PRIVATE`.

    A group that does not exist, or one the user is not in (so cannot give files to), is a usage
    error, said before anything is graded.
    """
    if group is None:
        return PRIVATE
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        invalid("group", group, "no such group on this machine")
    if os.geteuid() != 0 and gid != os.getegid() and gid not in os.getgroups():
        invalid("group", group, "you are not in this group, so gradproof cannot give it the reports")
    return Access(gid)


def make_folder(folder: Path, access: Access = PRIVATE) -> None:
    """Create ``folder`` and any missing parent with ``access``'s folder mode; one that exists is
    left as it is."""
    if folder.is_dir():
        return
    make_folder(folder.parent, access)
    try:
        folder.mkdir(mode=access.folder_mode)
    except FileExistsError:
        return
    if access.gid is not None:
        os.chown(folder, -1, access.gid)
    os.chmod(folder, access.folder_mode)  # whatever the umask


def write_atomic_chunks(path: Path, chunks: Iterable[str], access: Access = PRIVATE) -> None:
    """:func:`write_atomic` of the text the chunks make, never all of it in memory at once."""
    make_folder(path.parent, access)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            access.give_fd(f.fileno())
            for chunk in chunks:
                f.write(valid_text(chunk))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, text: str, access: Access = PRIVATE) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half.

    The file is valid UTF-8 whatever ``text`` holds (:func:`~harness.records.report.valid_text`),
    and has ``access`` (0600 unless a group is given it) from the moment it exists.
    """
    make_folder(path.parent, access)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            access.give_fd(f.fileno())
            f.write(valid_text(text))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

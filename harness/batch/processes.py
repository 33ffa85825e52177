"""Grading across processes: one grader process (with its own worker) per job, fed one path at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from harness.batch.journal import canonical_line
from harness.errors import GraderError
from harness.records.outcome import GradingFailed, SandboxMode
from harness.records.report import VerdictData
from harness.run.pool import Pool, first_import

# It ends without the interpreter's teardown (≈ 0.3 s with torch loaded, that the batch's end
# would wait for): by then its pool is closed and its verdicts are sent.
_GRADER_MAIN = (
    "import os, sys\n"
    "from harness.batch.processes import _grader_process_main\n"
    "_grader_process_main()\n"
    "sys.stdout.flush(); sys.stderr.flush(); os._exit(0)"
)


_PR_SET_PDEATHSIG = 1


def grade_in_processes(
    items: list[tuple[int, Path]],
    assignment: Any,
    processes: int,
    sandbox: SandboxMode = "auto",
    hide: list[Path] | None = None,
) -> Iterator[tuple[int, VerdictData | GradingFailed]]:
    """Grade ``items`` (index, path) in ``processes`` grader processes, one worker each.

    Yields ``(index, verdict data)`` as each submission is done, in the order they finish
    (:func:`grade_in_process_groups`, one at a time, each line read).
    """
    for group in grade_in_process_groups(items, assignment, processes, sandbox, hide):
        for index, line in group:
            yield index, line if isinstance(line, GradingFailed) else cast(VerdictData, json.loads(line))


def grade_in_process_groups(
    items: list[tuple[int, Path]],
    assignment: Any,
    processes: int,
    sandbox: SandboxMode = "auto",
    hide: list[Path] | None = None,
    stopping: list[threading.Thread] | None = None,
) -> Iterator[list[tuple[int, str | GradingFailed]]]:
    """Grade ``items`` (index, path) in ``processes`` grader processes, one worker each.

    Yields the ``(index, verdict)`` of the submissions done, each verdict its journal line
    (:func:`~harness.batch.journal.canonical_line`), in the order they finish, in
    groups: those that arrived together (one wait), so that the batch journals a group with one
    fsync; a group is never held back waiting for more.

    Once the last verdict is in, every grader process is told to stop (it closes its pool) and
    waited for; with ``stopping``, by a thread added to that list (the caller joins it before it
    ends), so that what the caller does next (the reports) overlaps their shutdown.  A batch that
    fails waits for them here.

    Why processes and not threads: the check stage (truth, finite differences, diagnosis) is
    pure Python on small tensors, so two grading threads share one GIL; each time one of them
    waited for its worker it had to win the GIL back from the other, and on 2 cores two
    threads graded no faster than one (116 context switches and +60 % CPU per submission).
    A single-threaded grader process per slot keeps its worker busy while it checks.

    Each grader process imports the grader once and runs its own :class:`Pool` of one
    worker; work is handed out two at a time, so none waits for the next path.  A grader
    process dies with its parent (PR_SET_PDEATHSIG, bound to the thread that calls this),
    and its workers die with it.  Only plain verdict data and paths cross between the
    grader's own processes (pickled: both ends are the grader, never the submission).
    """
    if not items:
        return
    processes = max(1, min(processes, len(items)))
    pending = list(reversed(items))
    graders = [_GraderProcess(slot, assignment, sandbox, hide or []) for slot in range(processes)]
    try:
        for grader in graders:
            grader.handshake()
        while pending or any(g.outstanding for g in graders):
            for grader in graders:
                while pending and len(grader.outstanding) < 2 and grader.alive:
                    grader.give(pending.pop())
            ready = _wait_any([g.reader for g in graders if g.outstanding])
            group: list[tuple[int, str | GradingFailed]] = []
            for grader in graders:
                if grader.reader not in ready:
                    continue
                try:
                    message = grader.reader.recv()
                except (EOFError, OSError):
                    # It died (killed from outside, or a crash): its submissions go to the others,
                    # or to a fresh one.
                    pending.extend(grader.outstanding.values())
                    grader.outstanding.clear()
                    grader.restart()
                    continue
                kind = message[0]
                if kind == "fatal":
                    raise GraderError(str(message[1]))
                index = int(message[1])
                grader.outstanding.pop(index, None)
                group.append((index, str(message[2]) if kind == "done" else GradingFailed(str(message[2]))))
            if group:
                yield group
    finally:
        for grader in graders:  # all told first, then waited for: they close their pools together
            grader.tell_stop()
        if stopping is not None and sys.exc_info()[0] is None:
            waiting = threading.Thread(target=_stop_all, args=(graders,), name="gradproof-graders-stop")
            waiting.start()
            stopping.append(waiting)
        else:
            _stop_all(graders)


def _stop_all(graders: list[_GraderProcess]) -> None:
    for grader in graders:
        grader.stop()


def _wait_any(readers: list[Any]) -> list[Any]:
    from multiprocessing.connection import wait

    return list(wait(readers))


class _GraderProcess:
    """The parent's handle on one grader process (see :func:`grade_in_processes`)."""

    RESTARTS = 3

    def __init__(self, slot: int, assignment: Any, sandbox: SandboxMode, hide: list[Path]) -> None:
        self.slot = slot
        self.setup = (assignment, sandbox, hide)
        self.outstanding: dict[int, tuple[int, Path]] = {}
        self.restarts = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        from multiprocessing.connection import Connection

        # Started from the calling thread: PR_SET_PDEATHSIG follows it (it waits for the batch).
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _GRADER_MAIN, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.writer = Connection(os.dup(self.proc.stdin.fileno()), readable=False)
        self.reader = Connection(os.dup(self.proc.stdout.fileno()), writable=False)
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.writer.send(self.setup)
        self.ready = False
        self.told_stop = False

    def handshake(self) -> None:
        try:
            message = self.reader.recv()
        except (EOFError, OSError):
            raise GraderError("a grader process failed to start") from None
        if message[0] != "ready":
            raise GraderError(str(message[1]))
        self.ready = True

    @property
    def alive(self) -> bool:
        return self.proc is not None

    def give(self, item: tuple[int, Path]) -> None:
        self.outstanding[item[0]] = item
        try:
            self.writer.send(item)
        except OSError:
            pass  # it died: the read that follows says so

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        if self.restarts > self.RESTARTS:
            raise GraderError(f"grader process {self.slot} died {self.restarts} times")
        self.start()
        self.handshake()

    def tell_stop(self) -> None:
        """Ask it to stop (it closes its pool and ends); :meth:`stop` waits for that."""
        if self.proc is None or self.told_stop:
            return
        self.told_stop = True
        try:
            self.writer.send(None)
        except OSError:
            pass

    def stop(self) -> None:
        if self.proc is None:
            return
        self.tell_stop()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for conn in (self.writer, self.reader):
            conn.close()
        self.proc = None


def _grader_process_main() -> None:
    """A grader process: one pool of one worker; paths in, verdict data out, until told to stop."""
    import ctypes
    from multiprocessing.connection import Connection

    parent = int(sys.argv[1])
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    reader = Connection(os.dup(0), writable=False)
    writer = Connection(os.dup(1), readable=False)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # a stray print goes to stderr, never into the channel
    assignment, sandbox, hide = reader.recv()
    try:
        pool = Pool(1, sandbox, hide, scratch_bytes=assignment.limits.scratch_bytes)
        pool.spawn()  # first: its worker imports torch while this process does, just below
    except GraderError as exc:
        writer.send(("fatal", str(exc)))
        return
    with first_import("harness.grade"):
        import torch  # lazy: a grader process is spawned torch-free, and imports torch once, here

        from harness.grade import grade_submission  # lazy: imports torch (see above)
    torch.set_num_threads(1)

    try:
        pool.start()
    except GraderError as exc:
        writer.send(("fatal", str(exc)))
        return
    with pool:
        writer.send(("ready", pool.isolation))
        while True:
            try:
                item = reader.recv()
            except EOFError:
                return
            if item is None:
                return
            index, path = item
            try:
                data = grade_submission(path, pool, assignment).to_data()
            except GraderError as exc:
                writer.send(("fatal", str(exc)))
                return
            except Exception as exc:
                writer.send(("failed", index, f"{type(exc).__name__}: {exc}"))
            else:  # its journal line: the dumps is done here, beside the other grader processes
                writer.send(("done", index, canonical_line(data)))

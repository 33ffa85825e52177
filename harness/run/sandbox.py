"""How a worker is isolated: bubblewrap namespaces where they work, plain processes otherwise.

A worker (``harness/run/worker.py``) is one long-lived process per ``--jobs`` slot.
With bubblewrap it runs inside its own pid, network, IPC and UTS namespaces,
the system read-only, a private ``/tmp``, all capabilities dropped (as root it
keeps only those it needs to hand each child its own unprivileged uid), and
the grader's files (the ``harness`` and ``reference`` packages, the project's
tests, the reports, the submissions folder) covered by empty tmpfs mounts.
Without bubblewrap it is a plain process; the limits, the fresh child per
submission and the cleanup still apply, and the report's ``isolation`` says so.

As root, every worker's children run as a uid of their own (claimed with a lock
file, so that two graders on one machine never share one): ``RLIMIT_NPROC``
only works for a non-root uid, and "kill every process of this uid" is how a
worker ends whatever a submission left behind.
"""

from __future__ import annotations

import fcntl
import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness import wire
from harness.errors import SandboxUnavailable, invalid
from harness.records.outcome import SANDBOX_MODES, SandboxMode
from harness.wire import GRADER_PACKAGES

FIRST_UID = 61000  # as root, each worker's children run as a uid from FIRST_UID on
UID_RANGE = 4096

_WORKER_SOURCE = Path(__file__).with_name("worker.py")
_WIRE_SOURCE = Path(wire.__file__)

# The worker's ``-c`` program: the wire protocol made a module of its own (registered before it
# runs, as an import would), then the worker's source as the main program.  Both keep a file
# name that starts with "<string>": the worker's tracebacks leave such frames out (its own).
_BOOTSTRAP = """\
import sys as _sys, types as _types
_wire = _types.ModuleType({name!r}, "the grader's wire protocol (harness/wire.py), injected")
_sys.modules[{name!r}] = _wire
exec(compile({wire_source!r}, "<string>:{name}", "exec", dont_inherit=True), _wire.__dict__)
del _sys, _types, _wire
exec(compile({worker_source!r}, "<string>", "exec", dont_inherit=True))
"""


def worker_source() -> str:
    """The worker's program for ``python -c``: :mod:`harness.wire` injected, then ``worker.py``.

    Inside the sandbox the grader's packages are hidden, so the worker cannot import
    ``harness.wire``; it takes the module this program made from ``sys.modules`` instead
    (and removes the name, so that a submission's ``import`` does not find it).
    """
    return _BOOTSTRAP.format(
        name=wire.INJECTED_NAME,
        wire_source=_WIRE_SOURCE.read_text(encoding="utf-8"),
        worker_source=_WORKER_SOURCE.read_text(encoding="utf-8"),
    )


@dataclass(frozen=True)
class WorkerCommand:
    argv: list[str]
    isolation: str


@functools.lru_cache(maxsize=1)
def bubblewrap_problem() -> str | None:
    """``None`` where bubblewrap can create namespaces here, else why not."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        probe = subprocess.run(
            [bwrap, *_namespace_flags(), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if probe.returncode != 0:
        reason = probe.stderr.decode(errors="replace").strip().splitlines()
        return f"bwrap cannot create namespaces here: {reason[-1] if reason else probe.returncode}"
    return None


def _namespace_flags() -> list[str]:
    flags = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() != 0:
        flags.append("--unshare-user")  # unprivileged: a user namespace makes the rest possible
    return flags


def hidden_paths(extra: list[Path]) -> list[Path]:
    """The grader's own files, which a submission must not see, plus ``extra`` (reports, inputs)."""
    found: list[Path] = []
    for package in GRADER_PACKAGES:  # found, not imported: importing reference imports torch
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            found.append(Path(list(spec.submodule_search_locations)[0]))
    found += extra
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").exists():  # a source checkout (editable install)
        found += [checkout / name for name in ("tests", "submissions", "bench", ".git", ".ci")]
    protected = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent}
    result: list[Path] = []
    for path in found:
        path = path.resolve()
        if not path.is_dir() or path == Path("/"):
            continue
        if any(p == path or path in p.parents for p in protected):
            continue  # hiding it would hide the interpreter itself
        if path not in result:
            result.append(path)
    return result


def worker_command(
    slot: int, mode: SandboxMode, hide: list[Path], uid: int | None = None, *, warm: bool = True
) -> WorkerCommand:
    """The command line of worker ``slot``: bubblewrap around it where possible (``mode``).

    ``uid`` is the unprivileged uid its children run as (see :func:`claim_uid`); as
    root it is needed, without root it is ignored (the children keep the grader's uid).
    """
    if mode not in SANDBOX_MODES:
        invalid("sandbox", mode, f"expected one of {', '.join(SANDBOX_MODES)}")
    root = os.geteuid() == 0
    problem = bubblewrap_problem() if mode != "off" else "the sandbox was turned off (--sandbox off)"
    if problem is not None and mode == "require":
        raise SandboxUnavailable(f"--sandbox require: {problem}")
    use_bwrap = problem is None
    if not root:
        uid = None
    elif uid is None:
        uid = FIRST_UID + slot
    # Without namespaces, a private home that holds the interpreter stays closed to the child's
    # uid: the child then keeps CAP_DAC_READ_SEARCH (read any file, as the root grader could).
    read_all = uid is not None and not use_bwrap and not interpreter_is_public()
    config = {
        "uid": uid,
        "pidns": use_bwrap,
        "read_all": read_all,
        "warm": warm,
        "workdir_base": "/tmp" if use_bwrap else fallback_base(),
        "grader": os.getpid(),
    }  # unused by the worker: says whose it is in a process list
    # Not -I: its -E would ignore PYTHONHASHSEED, and string hashing (so the order of a set a
    # submission prints) must not differ between workers. The environment is ours entirely
    # (bwrap --clearenv, or worker_environment()); -s and -P keep user and cwd paths out.
    flags = ["-s", "-P"] if sys.version_info >= (3, 11) else ["-s"]
    python = [sys.executable, *flags, "-c", worker_source(), json.dumps(config)]
    who = ", children run as unprivileged uids of their own" if uid is not None else ", children share the grader's uid"
    if not use_bwrap:
        readable = " that may read any file" if read_all else ""
        return WorkerCommand(
            argv=python,
            isolation=f"process (resource limits, private directory{who}{readable}; no namespaces: {problem})",
        )
    argv = ["bwrap", "--die-with-parent", "--new-session", *_namespace_flags()]
    argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp"]
    argv += _reachable_interpreter(private_tmp=True, other_uid=uid is not None)
    for path in hide:
        argv += ["--tmpfs", str(path)]
    argv += ["--cap-drop", "ALL"]
    if root:
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL"):
            argv += ["--cap-add", cap]
    argv += ["--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/tmp"]
    for name, value in WORKER_ENV.items():
        argv += ["--setenv", name, value]
    argv += ["--chdir", "/tmp"]
    isolation = f"bubblewrap (pid, net, ipc, uts namespaces; read-only system; private /tmp; grader files hidden{who})"
    return WorkerCommand(argv=argv + python, isolation=isolation)


WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "LANG": "C.UTF-8",
    "MPLBACKEND": "Agg",
    "PYTHONHASHSEED": "0",
}


def worker_environment() -> dict[str, str]:
    """The environment of a worker (and so of its children, which only change HOME and TMPDIR):
    nothing of the grader's but the search path."""
    return {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": "/tmp", **WORKER_ENV}


def claim_uid(first: int | None = None) -> tuple[int, int]:
    """A uid no other worker on this machine uses, and the lock that holds it (close it to release).

    Lock files live in a root-owned folder of the temp dir; a killed grader's locks vanish with it.
    The search starts at ``first``, else ``$GRADPROOF_FIRST_UID``, else :data:`FIRST_UID` (a site
    whose uids from 61000 on are taken names another range).
    """
    if first is None:
        text = os.environ.get("GRADPROOF_FIRST_UID", "")
        first = int(text) if text.isdigit() else FIRST_UID
    if first < 1000:
        invalid("GRADPROOF_FIRST_UID", first, "must be a uid of 1000 or more (no system account)")
    folder = Path(tempfile.gettempdir()) / "gradproof-uids"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
        usable = info.st_uid == os.geteuid() and not folder.is_symlink() and not info.st_mode & 0o022
    except OSError:
        usable = False
    if not usable:
        raise SandboxUnavailable(f"cannot use {folder} to claim a uid for a worker (not ours, or not a folder)")
    for uid in range(first, first + UID_RANGE):
        fd = os.open(folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return uid, fd
    raise SandboxUnavailable(f"no free uid for a worker in {first}..{first + UID_RANGE - 1}")


def _reachable_interpreter(private_tmp: bool = False, other_uid: bool = True) -> list[str]:
    """Mounts that keep the interpreter and its packages readable inside the sandbox.

    * ``private_tmp``: the sandbox covers ``/tmp`` with an empty tmpfs; a virtualenv
      that lives there (``python -m venv /tmp/venv``) is bound back, read-only.
    * ``other_uid``: Python often lives under a private home (``/root/.pyenv``) that
      the child's own uid cannot enter: cover that closed ancestor with an empty
      tmpfs too, and bind back only the interpreter's own trees.
    """
    tmp = Path("/tmp")
    needed = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent}
    needed |= {Path(p) for p in sys.path if p and Path(p).is_dir()}
    covers: dict[Path, list[Path]] = {}
    for path in sorted(p.resolve() for p in needed):
        if private_tmp and tmp in path.parents:
            covers.setdefault(tmp, []).append(path)
            continue
        if not other_uid:
            continue
        for ancestor in reversed(path.parents):
            if ancestor != Path("/") and not os.stat(ancestor).st_mode & 0o001:
                covers.setdefault(ancestor, []).append(path)
                break
    argv: list[str] = []
    for cover, paths in covers.items():
        if cover != tmp:  # /tmp is covered already, world-writable: it keeps its mode
            argv += ["--perms", "0755", "--tmpfs", str(cover)]
        made: set[Path] = set()
        for path in paths:
            if any(other in path.parents for other in paths):
                continue  # already inside a tree bound back
            between = [p for p in reversed(path.parents) if cover in p.parents and p not in made]
            for directory in between:  # bwrap would make these 0700
                argv += ["--perms", "0755", "--dir", str(directory)]
                made.add(directory)
            argv += ["--ro-bind", str(path), str(path)]
    return argv


def interpreter_is_public() -> bool:
    """Whether another uid can read the interpreter (needed to drop privileges without namespaces)."""
    return not _reachable_interpreter()


def fallback_base_path() -> Path:
    """Where workers without a private /tmp make their children's directories (one per grader)."""
    return Path(tempfile.gettempdir()) / f"gradproof-{os.getpid()}"


def fallback_base() -> str:
    """Without a private /tmp each child still gets a fresh directory, under one the grader made
    (each worker makes its own inside it and removes it when it ends)."""
    base = fallback_base_path()
    base.mkdir(mode=0o711, exist_ok=True)
    return str(base)

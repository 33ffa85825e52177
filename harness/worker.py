"""The run stage's worker: a fork server that executes submissions, inside the sandbox.

This file is run as ``python -I -c <this source> <config json>``; it imports only
the standard library, torch and (if installed) numpy, never ``harness`` or
``reference`` (those are hidden from the sandbox).  One worker imports torch
once, then forks a fresh child per submission:

* grader -> worker (stdin, JSON lines): ``{"op": "job", ...}``, ``{"op": "call", ...}``,
  ``{"op": "end"}``, ``{"op": "quit"}``
* worker -> grader (stdout, JSON lines): ``ready``, the child's events
  (``bind``, ``raised``, ``executed``, ``return``, ``call_error``, ``blocked``,
  ``ipython``), then one ``exit`` event per job.

The child is the submission: it runs with its own uid where the worker is root,
resource limits, a private working directory, stdout/stderr captured into
pipes, and every file descriptor of the worker closed.  The worker is the
supervisor: it enforces the wall clock with SIGKILL (no ``except`` in student
code can see that) and kills every process the child left behind.  It reports
data; the grader decides.
"""

from __future__ import annotations

import ast
import builtins
import ctypes
import json
import math
import os
import resource
import select
import selectors
import shutil
import signal
import socket
import sys
import time
import traceback
from typing import Any, Callable

MAX_EVENT = 8 * 1024 * 1024  # one event line from the child
MAX_ELEMENTS = 200_000  # a tensor larger than this is described, not sent
CHILD_EVENTS = {"bind", "raised", "executed", "return", "call_error", "blocked", "ipython"}
GRADER_PACKAGES = ("harness", "reference")

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36


# --------------------------------------------------------------------- encoding

def encode(value: Any, depth: int = 0) -> dict[str, Any]:
    """Plain data for a value: tensors as dtype/shape/values, never pickle."""
    torch = sys.modules.get("torch")
    np = sys.modules.get("numpy")
    if torch is not None and isinstance(value, torch.Tensor):
        t = value.detach()
        if t.numel() > MAX_ELEMENTS:
            return {"t": "too_large", "shape": list(t.shape), "kind": "tensor"}
        if t.is_complex() or t.layout != torch.strided:
            return {"t": "other", "type": f"tensor({t.dtype}, {t.layout})"}
        flat = t.to("cpu").reshape(-1)
        data = flat.tolist() if t.dtype != torch.bool else [int(v) for v in flat.tolist()]
        return {"t": "tensor", "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                "data": data, "requires_grad": bool(value.requires_grad)}
    if np is not None and isinstance(value, (np.ndarray, np.generic)):
        a = np.asarray(value)
        if a.size > MAX_ELEMENTS:
            return {"t": "too_large", "shape": list(a.shape), "kind": "ndarray"}
        if a.dtype.kind not in "biuf":
            return {"t": "other", "type": f"ndarray({a.dtype})"}
        return {"t": "ndarray", "dtype": str(a.dtype), "shape": list(a.shape),
                "data": [float(v) for v in a.reshape(-1).tolist()]}
    if isinstance(value, bool):
        return {"t": "number", "v": int(value)}
    if isinstance(value, (int, float)):
        v = float(value) if isinstance(value, float) or abs(value) < 2**53 else float("nan")
        return {"t": "number", "v": v}
    if isinstance(value, (list, tuple)) and depth < 4 and len(value) <= 10_000:
        return {"t": "tuple" if isinstance(value, tuple) else "list",
                "items": [encode(v, depth + 1) for v in value]}
    if callable(value):
        return {"t": "function"}
    return {"t": "other", "type": type(value).__name__}


def decode(data: dict[str, Any]) -> Any:
    """An argument from the grader: a tensor (or ndarray) of the given dtype and shape."""
    kind = data.get("t")
    if kind == "tensor":
        import torch

        return torch.tensor(data["data"], dtype=getattr(torch, data["dtype"])).reshape(data["shape"])
    if kind == "ndarray":
        import numpy

        return numpy.array(data["data"], dtype=data["dtype"]).reshape(data["shape"])
    if kind == "number":
        return data["v"]
    raise ValueError(f"cannot decode argument of kind {kind!r}")


# --------------------------------------------------------------------- the child

class Child:
    """Runs inside the forked process: executes the submission and answers calls."""

    def __init__(self, sock: socket.socket, job: dict[str, Any]) -> None:
        self.sock = sock
        self.job = job
        self.names: list[str] = list(job.get("names", []))
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.seen: dict[str, tuple[tuple[int, Any], str]] = {}

    def send(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, allow_nan=True).encode() + b"\n"
        if len(line) > MAX_EVENT:
            line = json.dumps({"ev": event.get("ev", "?"), "too_large": True}).encode() + b"\n"
        self.sock.sendall(line)

    def run(self) -> None:
        self.namespace["get_ipython"] = _IPythonStub(self).get_ipython
        sys.meta_path.insert(0, _GraderBlocker(self))
        statement = 0
        for label, source in self.job["cells"]:
            try:
                tree = compile(source, label, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
            except BaseException as exc:  # SyntaxError, ValueError, RecursionError, MemoryError
                self.raised(exc, label, statement)
                break
            stopped = False
            for node in tree.body:  # one statement at a time, so the grader sees the history
                statement += 1
                try:
                    code = compile(ast.Module(body=[node], type_ignores=[]), label, "exec", dont_inherit=True)
                    exec(code, self.namespace)
                except BaseException as exc:  # the student's SystemExit and KeyboardInterrupt are verdicts too
                    self.snapshot(statement, label)
                    self.raised(exc, label, statement)
                    stopped = True
                    break
                self.snapshot(statement, label)
            if stopped:
                break
        functions = sorted(n for n in self.job.get("functions", []) if callable(self.namespace.get(n)))
        self.send({"ev": "executed", "functions": functions})
        self.serve()

    def snapshot(self, statement: int, label: str) -> None:
        """Send the tracked names whose value changed in this statement (tensors: by id and version)."""
        changed: dict[str, Any] = {}
        for name in self.names:
            if name not in self.namespace:
                if self.seen.pop(name, None) is not None:
                    changed[name] = {"t": "unbound"}
                continue
            value = self.namespace[name]
            version = getattr(value, "_version", None) if _is_tensor(value) else None
            key = (id(value), version)
            previous = self.seen.get(name)
            if previous is not None and version is not None and previous[0] == key:
                continue
            try:
                encoded = encode(value)
            except BaseException as exc:
                encoded = {"t": "other", "type": f"unreadable ({type(exc).__name__})"}
            text = json.dumps(encoded, allow_nan=True)
            self.seen[name] = (key, text)
            if previous is None or previous[1] != text:
                changed[name] = encoded
        if changed:
            self.send({"ev": "bind", "statement": statement, "label": label, "values": changed})

    def raised(self, exc: BaseException, label: str, statement: int) -> None:
        self.send({"ev": "raised", "statement": statement, "label": label, **describe(exc)})

    def serve(self) -> None:
        reader = self.sock.makefile("rb")
        for line in reader:
            msg = json.loads(line)
            if msg.get("op") != "call":
                break
            fn = self.namespace.get(msg["fn"])
            try:
                args = [decode(a) for a in msg["args"]]
                if not callable(fn):
                    raise NameError(f"{msg['fn']} is not defined")
                result = fn(*args)
                self.send({"ev": "return", "value": encode(result)})
            except BaseException as exc:
                self.send({"ev": "call_error", **describe(exc)})


def _is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def describe(exc: BaseException) -> dict[str, Any]:
    """An exception as data: type, message, the student's frames only."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<string>")]
    line = frames[-1].lineno if frames else getattr(exc, "lineno", None)
    text = "".join(traceback.format_list(frames[-8:])) + "".join(traceback.format_exception_only(type(exc), exc))
    try:
        message = exc.msg if isinstance(exc, SyntaxError) and exc.msg else str(exc)
    except BaseException:
        message = "<unprintable>"
    return {"type": type(exc).__name__, "message": message[:2000], "line": line, "traceback": text[-4000:]}


class _GraderBlocker:
    """Refuse ``import harness`` / ``import reference`` (they are hidden anyway); tell the grader."""

    def __init__(self, child: Child) -> None:
        self.child = child

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".")[0] in GRADER_PACKAGES:
            self.child.send({"ev": "blocked", "module": name})
            raise ImportError(f"gradproof: a submission may not import the grader's package {name!r}")
        return None


class _IPythonStub:
    """What ``get_ipython()`` returns: harmless magics run, the rest is refused and recorded."""

    RUN_LINE = {"time", "timeit", "capture"}
    IGNORED = {"matplotlib", "config", "load_ext", "reload_ext", "autoreload", "pylab", "precision",
               "pprint", "who", "whos", "env"}

    def __init__(self, child: Child) -> None:
        self.child = child
        self.user_ns = child.namespace

    def get_ipython(self) -> "_IPythonStub":
        return self

    def _record(self, what: str, executed: bool) -> None:
        self.child.send({"ev": "ipython", "call": what[:300], "executed": executed})

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> Any:
        if name in self.RUN_LINE and line.strip():
            self._record(f"%{name} {line}", True)
            exec(compile(line, f"<%{name}>", "exec"), self.user_ns)
            return None
        if name == "matplotlib":
            try:
                import matplotlib

                matplotlib.use("Agg")
            except Exception:
                pass
        self._record(f"%{name} {line}", name in self.IGNORED)
        return None

    def run_cell_magic(self, name: str, line: str, cell: str) -> Any:
        if name in self.RUN_LINE:
            self._record(f"%%{name} {line}", True)
            exec(compile(cell, f"<%%{name}>", "exec"), self.user_ns)
            return None
        self._record(f"%%{name} {line}", False)
        return None

    def system(self, cmd: str) -> None:
        self._record(f"!{cmd}", False)

    def getoutput(self, cmd: str, split: bool = True) -> list[str]:
        self._record(f"!{cmd}", False)
        return []

    def run_cell(self, *args: Any, **kwargs: Any) -> None:
        self._record("run_cell", False)

    def __getattr__(self, name: str) -> Callable[..., None]:
        def refused(*args: Any, **kwargs: Any) -> None:
            self._record(name, False)

        return refused


# --------------------------------------------------------------------- the supervisor

class Worker:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.uid: int | None = config.get("uid")
        self.pidns: bool = bool(config.get("pidns"))
        self.base: str = config.get("workdir_base") or "/tmp"
        self.out = os.fdopen(1, "wb", buffering=0)
        self.inbuf = b""
        self.jobs = 0

    def send(self, event: dict[str, Any]) -> None:
        self.out.write(json.dumps(event, allow_nan=True).encode() + b"\n")

    def read_line(self, timeout: float | None) -> bytes | None:
        """One line from the grader (b"" at EOF, None if none is complete within ``timeout``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.inbuf:
            if deadline is not None:
                left = max(0.0, deadline - time.monotonic())
                if not select.select([0], [], [], left)[0]:
                    return None
            chunk = os.read(0, 1 << 16)
            if not chunk:
                return b""
            self.inbuf += chunk
        line, _, self.inbuf = self.inbuf.partition(b"\n")
        return line

    def serve(self) -> None:
        import torch

        torch.set_num_threads(1)
        try:
            import numpy  # noqa: F401 - so that children need not import it
        except ImportError:
            pass
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        self.send({"ev": "ready", "pid": os.getpid(), "uid": os.getuid(), "torch": torch.__version__,
                   "python": sys.version.split()[0]})
        while True:
            line = self.read_line(None)
            if not line:
                return
            msg = json.loads(line)
            if msg.get("op") == "job":
                self.run_job(msg)
            elif msg.get("op") == "quit":
                return

    def run_job(self, job: dict[str, Any]) -> None:
        limits = job["limits"]
        self.jobs += 1
        workdir = os.path.join(self.base, f"job-{os.getpid()}-{self.jobs}")
        parent_sock, child_sock = socket.socketpair()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            try:
                parent_sock.close()
                for fd in (out_r, err_r):
                    os.close(fd)
                self.become_child(job, limits, workdir, out_w, err_w, child_sock)
                Child(child_sock, job).run()
            except BaseException as exc:  # a failure of the worker's own set-up, told to the grader
                try:
                    child_sock.sendall(json.dumps({"ev": "raised", "label": "grader set-up", **describe(exc)}).encode() + b"\n")
                except BaseException:
                    pass
            finally:
                os._exit(0)
        child_sock.close()
        os.close(out_w)
        os.close(err_w)
        reason, kept = self.supervise(pid, parent_sock, out_r, err_r, limits, started)
        duration = time.monotonic() - started
        status = self.finish(pid)
        for fd in (out_r, err_r):
            os.close(fd)
        parent_sock.close()
        self.cleanup(workdir)
        exit_event: dict[str, Any] = {"ev": "exit", "reason": reason, "duration": duration,
                                      "stdout": kept[out_r][0].decode("utf-8", "replace"),
                                      "stderr": kept[err_r][0].decode("utf-8", "replace"),
                                      "stdout_bytes": kept[out_r][1], "stderr_bytes": kept[err_r][1]}
        exit_event.update(status)
        self.send(exit_event)

    def become_child(self, job: dict[str, Any], limits: dict[str, Any], workdir: str,
                     out_w: int, err_w: int, sock: socket.socket) -> None:
        os.setsid()
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.mkdir(workdir, 0o700)
        uid = self.uid
        own_processes = 0 if uid is not None and os.getuid() == 0 else _count_processes(os.getuid())
        if uid is not None and os.getuid() == 0:
            os.chown(workdir, uid, uid)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        os.chdir(workdir)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        keep = sock.fileno()
        for fd in range(3, _max_fd()):
            if fd != keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", buffering=1, closefd=False, errors="backslashreplace")
        sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")
        sys.argv = [job.get("argv0", "submission")]
        env = {"HOME": workdir, "TMPDIR": workdir, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
        os.environ.clear()
        os.environ.update(env)
        vm = _vm_size()
        for name, value in (
            ("RLIMIT_AS", vm + int(limits["memory_bytes"])),
            ("RLIMIT_FSIZE", int(limits["file_bytes"])),
            ("RLIMIT_NPROC", own_processes + int(limits["processes"])),
            ("RLIMIT_CORE", 0),
        ):
            resource.setrlimit(getattr(resource, name), (value, value))
        cpu = int(math.ceil(limits["cpu_seconds"]))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        import random

        import torch

        seed = int(job.get("seed", 0))
        torch.manual_seed(seed)
        random.seed(seed)
        np = sys.modules.get("numpy")
        if np is not None:
            np.random.seed(seed % 2**32)

    def supervise(self, pid: int, sock: socket.socket, out_r: int, err_r: int,
                  limits: dict[str, Any], started: float) -> tuple[str, dict[int, tuple[bytes, int]]]:
        """Relay events and calls until the child is done, times out, or floods its output."""
        keep_bytes = int(limits["output_keep_bytes"])
        max_output = int(limits["output_bytes"])
        deadline = started + float(limits["timeout"])
        kept: dict[int, tuple[bytes, int]] = {out_r: (b"", 0), err_r: (b"", 0)}
        sel = selectors.DefaultSelector()
        sel.register(sock, selectors.EVENT_READ)
        sel.register(out_r, selectors.EVENT_READ)
        sel.register(err_r, selectors.EVENT_READ)
        sel.register(0, selectors.EVENT_READ)
        buf = b""
        reason = "exited"
        sock_open = True
        try:
            while sock_open:
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout", kept
                for key, _ in sel.select(left):
                    if key.fileobj is sock:
                        chunk = sock.recv(1 << 16)
                        if not chunk:
                            sock_open = False
                            sel.unregister(sock)
                            break
                        buf += chunk
                        while b"\n" in buf:
                            line, _, buf = buf.partition(b"\n")
                            self.relay(line)
                        if len(buf) > MAX_EVENT:
                            return "protocol", kept
                    elif key.fileobj == 0:
                        line = self.read_line(0)
                        if line is None:
                            continue
                        if line == b"":
                            return "grader-gone", kept
                        msg = json.loads(line)
                        if msg.get("op") == "call":
                            try:
                                sock.sendall(line + b"\n")
                            except OSError:
                                pass
                        elif msg.get("op") == "end":
                            return "ended", kept
                    else:
                        fd = int(key.fileobj)  # type: ignore[call-overload]
                        chunk = os.read(fd, 1 << 16)
                        if not chunk:
                            sel.unregister(fd)
                            continue
                        head, total = kept[fd]
                        if len(head) < keep_bytes:
                            head += chunk[: keep_bytes - len(head)]
                        kept[fd] = (head, total + len(chunk))
                        if kept[out_r][1] + kept[err_r][1] > max_output:
                            return "output", kept
            return reason, kept
        finally:
            sel.close()

    def relay(self, line: bytes) -> None:
        """Forward one child event, if it is one: the child cannot forge the worker's own events."""
        try:
            event = json.loads(line)
        except ValueError:
            return
        if isinstance(event, dict) and event.get("ev") in CHILD_EVENTS:
            self.out.write(line + b"\n")

    def finish(self, pid: int) -> dict[str, Any]:
        """Kill the child and everything it left behind; say how the child ended."""
        status: dict[str, Any] = {"code": None, "signal": None}
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        # the child may have ended on its own before the kill: waitpid tells how
        _, raw = os.waitpid(pid, 0)
        if os.WIFEXITED(raw):
            status["code"] = os.WEXITSTATUS(raw)
        elif os.WIFSIGNALED(raw):
            status["signal"] = signal.Signals(os.WTERMSIG(raw)).name
        self.kill_leftovers()
        return status

    def kill_leftovers(self) -> None:
        """No process outlives its grading: the pid namespace, the job's uid, or our subreaped orphans."""
        for _ in range(50):
            victims = self.leftovers()
            if not victims:
                break
            for victim in victims:
                try:
                    os.kill(victim, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self.reap()
            time.sleep(0.001)
        self.reap()

    def leftovers(self) -> list[int]:
        me = os.getpid()
        found: list[int] = []
        parents: dict[int, int] = {}
        owners: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
                owners[pid] = os.stat(f"/proc/{entry}").st_uid
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()
            if fields[0] == b"Z":
                continue
            parents[pid] = int(fields[1])
        for pid in parents:
            if pid in (me, 1):
                continue
            if self.pidns or (self.uid is not None and owners.get(pid) == self.uid and os.getuid() == 0):
                found.append(pid)
                continue
            ancestor = parents.get(pid)
            while ancestor is not None and ancestor not in (me, 0, 1):
                ancestor = parents.get(ancestor)
            if ancestor == me:
                found.append(pid)
        return found

    def reap(self) -> None:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def cleanup(self, workdir: str) -> None:
        """Remove what the job wrote: its directory, and in a private /tmp everything else too."""
        targets = [workdir]
        if self.pidns:
            targets += [os.path.join(d, e) for d in ("/tmp", "/dev/shm") if os.path.isdir(d)
                        for e in os.listdir(d)]
        uid = self.uid if os.getuid() == 0 else None
        if uid is None:
            for target in targets:
                _remove(target)
            return
        pid = os.fork()  # files the child made belong to its uid: remove them as that uid
        if pid == 0:
            try:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                for target in targets:
                    _remove(target)
                for d in ("/tmp", "/dev/shm", "/var/tmp"):
                    if os.path.isdir(d):
                        for e in os.listdir(d):
                            path = os.path.join(d, e)
                            try:
                                if os.lstat(path).st_uid == uid:
                                    _remove(path)
                            except OSError:
                                pass
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        _remove(workdir)


def _remove(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _count_processes(uid: int) -> int:
    """Processes this uid already has: RLIMIT_NPROC counts them all, so the limit goes on top."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                count += os.stat(f"/proc/{entry}").st_uid == uid
            except OSError:
                pass
    return count


def _max_fd() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return min(soft, 4096)


if __name__ == "__main__":
    Worker(json.loads(sys.argv[1])).serve()

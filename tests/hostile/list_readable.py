# mypy: ignore-errors
"""Hostile: lists everything it can see outside its own directory and the runtime (the system's
/usr, /lib*, /bin, /sbin, /etc, /dev, /proc, /sys, and the interpreter's own trees): the whole
file system from /, so /work, /home, /root, /srv, /opt, /mnt, /var, /tmp and wherever the
grader's checkout is; the site folders, for the grader's packages and distribution; and the
command lines of every process it can see (/proc/1/cmdline is bubblewrap's own).

Expected with the sandbox: it finds nothing ("FOUND 0"). Without it: a lot.
"""
import os
import sys
import time

RUNTIME = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/dev", "/proc", "/sys"]
RUNTIME += [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable)]
RUNTIME += [p for p in sys.path if p]
RUNTIME = {os.path.realpath(p) for p in RUNTIME} | {os.path.realpath(os.getcwd())}
GRADER = ("harness", "reference", "gradproof", "__editable__")


def runtime(path):
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r.rstrip("/") + "/") for r in RUNTIME)


found = []
seen = 0
started = time.monotonic()
stack = ["/"]
while stack and seen < 20000 and time.monotonic() - started < 1.5:
    folder = stack.pop()
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        continue
    for entry in entries:
        seen += 1
        if runtime(entry.path):
            continue
        if entry.is_dir(follow_symlinks=False):
            stack.append(entry.path)
        else:
            found.append(entry.path)  # a file, a link, a socket: something outside what it may see
for folder in sorted({p for p in sys.path if os.path.isdir(p)} | {os.path.join(sys.prefix, "bin")}):
    for name in sorted(os.listdir(folder)):
        if any(word in name for word in GRADER):
            found.append(os.path.join(folder, name))
commands = []
for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            commands.append(f.read().replace(b"\0", b" ").decode(errors="replace"))
    except OSError:
        pass
# what the test reads comes first: the output kept is a few KiB
print("FOUND", len(found))
print("TOP", sorted(os.listdir("/")))
for i, command in enumerate(commands[:8]):
    print(f"CMDLINE{i}", command[:300])
for path in found[:20]:
    print("SEEN", path)

# mypy: ignore-errors
"""Hostile: looks for the grader's and the reference's source and the hidden tests.

Expected with the sandbox: every one of those folders is empty. (Without it, they are readable:
the report's isolation says "no namespaces".)
"""
import glob
import os
import sys

roots = set()
for folder in sys.path:
    for finder in glob.glob(os.path.join(folder, "__editable__*gradproof*finder.py")):
        try:
            text = open(finder).read()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("MAPPING"):
                for part in line.split("'"):
                    if part.startswith("/"):
                        roots.add(os.path.dirname(part))
# what the test looks for comes first: the READ lines may run past the output that is kept
print("ROOTS", sorted(roots))
print("UID", os.getuid())
for attempt in ("/proc/1/root/etc/hostname", f"/proc/{os.getppid()}/environ", f"/proc/{os.getppid()}/mem"):
    try:
        with open(attempt, "rb") as f:
            f.read(10)
        print("READ", attempt)
    except OSError as exc:
        print("REFUSED", attempt, type(exc).__name__)
for root in sorted(roots):
    for sub in ("harness", "reference", "tests", "submissions", ".git"):
        for path in glob.glob(os.path.join(root, sub, "*")):
            try:
                with open(path, "rb") as f:
                    f.read(10)
                print("READ", path)
            except OSError:
                pass

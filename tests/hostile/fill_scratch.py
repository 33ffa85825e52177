# mypy: ignore-errors
"""Hostile: fills its scratch space (72 files of 1 MiB, each within the file-size limit).

Expected with the sandbox: the private /tmp is full before it is done (ENOSPC, the verdict);
it held no more than the assignment's scratch_bytes. Without a sandbox (or a bwrap without
--size) nothing stops it, and the worker removes the files afterwards.
"""
import os

written = 0
try:
    for i in range(72):
        with open(os.path.join(os.getcwd(), f"fill-{i}"), "wb") as f:
            f.write(b"\0" * (1 << 20))
        written += 1
finally:
    print("WROTE", written, "MiB")

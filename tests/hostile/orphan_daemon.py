# mypy: ignore-errors
"""Hostile: leaves a setsid sleep and a double-forked daemon behind, then finishes normally.

Expected: graded like any other file, and neither process outlives the job.
"""
import os
import subprocess
import sys

subprocess.Popen(["setsid", "sleep", "4711"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(4712)  # gradproof-hostile-daemon"])
    os._exit(0)
os.wait()
print("left two processes behind")

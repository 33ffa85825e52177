# mypy: ignore-errors
"""Hostile: kills the process that supervises it. Expected: not allowed (PermissionError),
since the child runs as a uid of its own."""
import os
import signal

os.kill(os.getppid(), signal.SIGKILL)

# mypy: ignore-errors
"""Hostile: catches everything (BaseException, every catchable signal) and keeps spinning.

Expected: the grader's SIGKILL at the wall clock cannot be caught; a time-limit verdict.
"""
import signal

for name in ("SIGTERM", "SIGINT", "SIGXCPU", "SIGALRM", "SIGHUP", "SIGUSR1", "SIGVTALRM", "SIGPROF"):
    signal.signal(getattr(signal, name), lambda *args: None)

while True:
    try:
        while True:
            pass
    except BaseException:
        pass

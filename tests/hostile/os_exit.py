# mypy: ignore-errors
"""Hostile: ends its own process. Expected: "exited (exit code 7) before it was done"."""
import os

print("bye", flush=True)
os._exit(7)

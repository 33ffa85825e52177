# mypy: ignore-errors
"""Hostile: forks without end. Expected: fork fails (BlockingIOError) at the process limit;
every clone is killed when the job ends."""
import os

while True:
    os.fork()

# mypy: ignore-errors
"""Hostile: never ends. Expected: stopped at the wall clock (a time-limit verdict)."""
while True:
    pass

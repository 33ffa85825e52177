# mypy: ignore-errors
"""Hostile: raises KeyboardInterrupt as if Ctrl-C. Expected: KeyboardInterrupt is the verdict."""
raise KeyboardInterrupt

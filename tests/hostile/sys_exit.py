# mypy: ignore-errors
"""Hostile: leaves early with sys.exit. Expected: SystemExit is the verdict, never a pass."""
import sys

print("leaving")
sys.exit(3)

# mypy: ignore-errors
"""Hostile: imports the reference solution. Expected: not graded (the grader's package)."""
import reference

W1 = reference.notebook_problem().W1

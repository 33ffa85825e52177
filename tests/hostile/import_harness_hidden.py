# mypy: ignore-errors
"""Hostile: imports the grader by a name no static reading sees. Expected: refused at run time."""
import importlib

grader = importlib.import_module("har" + "ness")

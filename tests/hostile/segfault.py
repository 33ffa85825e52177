# mypy: ignore-errors
"""Hostile: crashes the interpreter through ctypes. Expected: "crashed (SIGSEGV)"."""
import ctypes

ctypes.string_at(0)

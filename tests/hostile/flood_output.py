# mypy: ignore-errors
"""Hostile: prints 50 MB. Expected: stopped at the output cap; the report keeps only the head."""
import sys

sys.stdout.write("HEAD-OF-THE-FLOOD\n")
sys.stdout.write("x" * 50_000_000)
sys.stdout.flush()
print("never reached")

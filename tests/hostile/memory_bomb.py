# mypy: ignore-errors
"""Hostile: allocates without end. Expected: MemoryError at the address-space limit."""
blocks = []
while True:
    blocks.append(bytearray(64 * 1024 * 1024))

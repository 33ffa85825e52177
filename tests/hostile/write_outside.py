# mypy: ignore-errors
"""Hostile: writes outside its working directory. Expected: nothing of it is left on the host
(read-only system or permission denied, and whatever it could write in a temp folder is removed)."""
import os

TARGETS = [
    "../gradproof-hostile-escape",
    "../../gradproof-hostile-escape",
    "../../../gradproof-hostile-escape",
    "/tmp/gradproof-hostile-tmp",
    "/var/tmp/gradproof-hostile-vartmp",
    "/dev/shm/gradproof-hostile-shm",
    "/gradproof-hostile-root",
    os.path.expanduser("~/gradproof-hostile-home"),
]
for target in TARGETS:
    try:
        with open(target, "w") as f:
            f.write("escaped")
        print("WROTE", os.path.abspath(target))
    except OSError as exc:
        print("REFUSED", target, type(exc).__name__)
os.makedirs("/tmp/gradproof-hostile-dir/inner", exist_ok=True)
os.chmod("/tmp/gradproof-hostile-dir", 0)

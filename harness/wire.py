"""The grader<->worker wire protocol, written once for both ends (standard library only).

The worker cannot import ``harness`` inside the sandbox: the grader injects this module's source
into the worker's command line (see :mod:`harness.run.sandbox`).
"""

from __future__ import annotations

GRADER_PACKAGES = ("harness", "reference")  # a submission may not import these

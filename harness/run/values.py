"""Values over the wire: a child's encoded value decoded (validated) into a :class:`Value`, and the
grader's tensors encoded as call arguments."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from harness.records.outcome import Value

if TYPE_CHECKING:  # imported where used: the pool's parent stays torch-free until it checks
    import torch

MAX_DIMS = 8
FLOAT_DTYPES = {"float16", "bfloat16", "float32", "float64"}


def decode_value(data: Any, depth: int = 0) -> Value:
    """Validate and decode one encoded value; anything malformed becomes ``other``."""
    import torch

    if not isinstance(data, dict) or depth > 5:
        return Value(kind="other", description="malformed")
    kind = data.get("t")
    if kind in ("tensor", "ndarray"):
        shape, values, dtype = data.get("shape"), data.get("data"), str(data.get("dtype", ""))
        if not (
            isinstance(shape, list) and len(shape) <= MAX_DIMS and all(isinstance(n, int) and n >= 0 for n in shape)
        ):
            return Value(kind="other", description="malformed shape")
        if not isinstance(values, list) or len(values) != math.prod(shape):
            return Value(kind="other", description="malformed data")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return Value(kind="other", description="non-numeric data")
        tensor = torch.tensor(values, dtype=torch.float64).reshape(shape)
        return Value(kind=kind, dtype=_dtype_name(dtype), tensor=tensor, description=f"{kind} {dtype}")
    if kind == "number":
        v = data.get("v")
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return Value(kind="other", description="malformed number")
        return Value(kind="number", dtype="float64", tensor=torch.tensor(float(v), dtype=torch.float64))
    if kind in ("list", "tuple"):
        raw = data.get("items")
        if not isinstance(raw, list):
            return Value(kind="other", description="malformed sequence")
        items = tuple(decode_value(item, depth + 1) for item in raw)
        return Value(kind=kind, items=items, tensor=_nested_tensor(items), dtype="float64")
    if kind in ("function", "too_large", "unbound"):
        return Value(kind=kind, description=str(data.get("shape", "")))
    return Value(kind="other", description=str(data.get("type", "?"))[:100])


def _nested_tensor(items: tuple[Value, ...]) -> torch.Tensor | None:
    """A list of numbers (or of equal-length lists of numbers) read as an array."""
    if not items or any(item.tensor is None for item in items):
        return None
    import torch

    parts = [item.tensor for item in items if item.tensor is not None]
    if len({tuple(p.shape) for p in parts}) != 1:
        return None
    return torch.stack(parts)


def _dtype_name(dtype: str) -> str:
    name = dtype.replace("torch.", "")
    return name if name in FLOAT_DTYPES else ("float64" if name.startswith(("int", "uint", "bool")) else name)


def encode_argument(tensor: torch.Tensor, dtype: str, as_numpy: bool) -> dict[str, Any]:
    """An input the grader generated, as plain data for the child."""
    import torch

    return {
        "t": "ndarray" if as_numpy else "tensor",
        "dtype": dtype,
        "shape": list(tensor.shape),
        "data": tensor.detach().to(torch.float64).reshape(-1).tolist(),
    }

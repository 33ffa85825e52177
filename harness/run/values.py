"""Values over the wire: a child's encoded value decoded (validated) into a :class:`Value`, and the
grader's tensors encoded as call arguments (the encoding is :mod:`harness.wire`'s)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import harness.wire as wire
from harness.records.outcome import Value

if TYPE_CHECKING:  # imported where used: the pool's parent stays torch-free until it checks
    import torch

FLOAT_DTYPES = {"float16", "bfloat16", "float32", "float64"}
_MAX_EXACT_INT = 2**53  # past this an integer is no number an honest float computation wrote


def decode_value(data: Any, depth: int = 0) -> Value:
    """Validate and decode one encoded value; anything malformed becomes ``other``."""
    import torch  # here, not above: the pool's parent stays torch-free until it checks

    if not isinstance(data, dict) or depth > wire.MAX_DEPTH + 1:
        return Value(kind=wire.KIND_OTHER, description="malformed")
    kind = data.get(wire.KIND)
    if kind in wire.ARRAY_KINDS:
        shape, values, dtype = data.get(wire.SHAPE), data.get(wire.DATA), str(data.get(wire.DTYPE, ""))
        if not (
            isinstance(shape, list)
            and len(shape) <= wire.MAX_DIMS
            and all(isinstance(n, int) and n >= 0 for n in shape)
        ):
            return Value(kind=wire.KIND_OTHER, description="malformed shape")
        if not isinstance(values, list) or len(values) != math.prod(shape):
            return Value(kind=wire.KIND_OTHER, description="malformed data")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return Value(kind=wire.KIND_OTHER, description="non-numeric data")
        if not all(isinstance(v, float) or abs(v) <= _MAX_EXACT_INT for v in values):
            return Value(kind=wire.KIND_OTHER, description="an integer too large for a float")
        tensor = torch.tensor(values, dtype=torch.float64).reshape(shape)
        return Value(kind=kind, dtype=_dtype_name(dtype), tensor=tensor, description=f"{kind} {dtype}")
    if kind == wire.KIND_NUMBER:
        v = data.get(wire.NUMBER)
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return Value(kind=wire.KIND_OTHER, description="malformed number")
        if not isinstance(v, float) and abs(v) > _MAX_EXACT_INT:
            return Value(kind=wire.KIND_OTHER, description="an integer too large for a float")
        return Value(kind=wire.KIND_NUMBER, dtype="float64", tensor=torch.tensor(float(v), dtype=torch.float64))
    if kind in wire.SEQUENCE_KINDS:
        raw = data.get(wire.ITEMS)
        if not isinstance(raw, list):
            return Value(kind=wire.KIND_OTHER, description="malformed sequence")
        items = tuple(decode_value(item, depth + 1) for item in raw)
        return Value(kind=kind, items=items, tensor=_nested_tensor(items), dtype="float64")
    if kind in (wire.KIND_FUNCTION, wire.KIND_TOO_LARGE, wire.KIND_UNBOUND):
        return Value(kind=kind, description=str(data.get(wire.SHAPE, "")))
    return Value(kind=wire.KIND_OTHER, description=str(data.get(wire.TYPE, "?"))[: wire.MAX_NAME_CHARS])


def _nested_tensor(items: tuple[Value, ...]) -> torch.Tensor | None:
    """A list of numbers (or of equal-length lists of numbers) read as an array."""
    if not items or any(item.tensor is None for item in items):
        return None
    import torch  # here, not above: the pool's parent stays torch-free until it checks

    parts = [item.tensor for item in items if item.tensor is not None]
    if len({tuple(p.shape) for p in parts}) != 1:
        return None
    return torch.stack(parts)


def _dtype_name(dtype: str) -> str:
    name = dtype.replace("torch.", "")
    return name if name in FLOAT_DTYPES else ("float64" if name.startswith(("int", "uint", "bool")) else name)


def encode_argument(tensor: torch.Tensor, dtype: str, as_numpy: bool) -> dict[str, Any]:
    """An input the grader generated, as plain data for the child."""
    import torch  # here, not above: the pool's parent stays torch-free until it checks

    kind = wire.KIND_NDARRAY if as_numpy else wire.KIND_TENSOR
    return wire.array(kind, dtype, tensor.shape, tensor.detach().to(torch.float64).reshape(-1).tolist())

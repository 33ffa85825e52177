"""Grading past one machine: a deterministic slice of the batch per shard, and the merge of their outputs.

``gradproof grade --shard K/N`` grades the submissions at positions
``K-1, K-1+N, K-1+2N, ...`` of the batch (the batch as ``collect`` orders it:
the arguments in order, each folder sorted), so that N shards cover every
submission exactly once and balance their sizes.  K counts from 1.
``--shard auto`` reads the shard from the environment:

* a Slurm array job: ``SLURM_ARRAY_TASK_ID`` (with ``SLURM_ARRAY_TASK_MIN``
  and ``SLURM_ARRAY_TASK_STEP``, so ``--array=0-3`` and ``--array=1-4`` both
  work) and ``SLURM_ARRAY_TASK_COUNT``;
* a Kubernetes Indexed Job: ``JOB_COMPLETION_INDEX`` (from 0), with the count
  from ``--shard-count`` or ``GRADPROOF_SHARD_COUNT``.

Sharding is never implicit: without ``--shard`` (or ``--shard-count``) a
grade inside an array job grades everything.

Each shard's ``report.json`` carries a ``shard`` key: which shard it is, the
positions of its submissions in the whole batch, and a fingerprint of the
batch.  ``gradproof merge`` checks that the shards belong together and cover
the batch, puts every verdict back at its position, and writes the reports a
single run would have written (``shard`` dropped; only timings differ): the ``summary`` is
computed again from the merged verdicts, so it is the one a single run writes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError, invalid
from harness.records.report import ReportData, ShardData, VerdictData, report_from_json, valid_data
from harness.report.data import report_data
from harness.report.files import PRIVATE, Access, write_atomic

JOURNAL = "journal.jsonl"  # harness.batch.journal's name (not imported from there: harness.batch imports torch)


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (from 1) of ``count``; ``source`` says where it came from."""

    index: int
    count: int
    source: str = "--shard"

    def __post_init__(self) -> None:
        if self.count < 1:
            invalid("shard", f"{self.index}/{self.count}", "N must be a whole number ≥ 1")
        if not 1 <= self.index <= self.count:
            invalid("shard", f"{self.index}/{self.count}", f"K counts from 1 and must be between 1 and {self.count}")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def positions(self, total: int) -> list[int]:
        """The positions of this shard's submissions in a batch of ``total``."""
        return list(range(self.index - 1, total, self.count))


@dataclass(frozen=True)
class Plan:
    """What one shard grades: its files, their positions in the batch, and the ``shard`` key for report.json."""

    files: list[Path]
    positions: list[int]
    info: ShardData  # empty without a shard


def parse(text: str) -> Shard:
    """``"K/N"`` → :class:`Shard`."""
    parts = text.strip().split("/")
    try:
        index, count = (int(p) for p in parts)
    except ValueError:
        invalid("shard", text, "expected K/N (shard K of N, K from 1), e.g. 2/8, or 'auto'")
    return Shard(index, count)


def _int(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except ValueError:
        invalid(name, env[name], "expected a whole number")


def from_environment(env: Mapping[str, str], count: int | None = None) -> Shard:
    """The shard a Slurm array task or a Kubernetes Indexed Job pod is."""
    if "SLURM_ARRAY_TASK_ID" in env:
        task = _int(env, "SLURM_ARRAY_TASK_ID")
        low = _int(env, "SLURM_ARRAY_TASK_MIN") if "SLURM_ARRAY_TASK_MIN" in env else 0
        step = _int(env, "SLURM_ARRAY_TASK_STEP") if "SLURM_ARRAY_TASK_STEP" in env else 1
        if count is None:
            if "SLURM_ARRAY_TASK_COUNT" not in env:
                raise UsageError("SLURM_ARRAY_TASK_COUNT is not set: give the number of shards with --shard-count")
            count = _int(env, "SLURM_ARRAY_TASK_COUNT")
        if step < 1 or (task - low) % step:
            invalid(
                "SLURM_ARRAY_TASK_ID",
                task,
                f"is not on the array's grid (min {low}, step {step}); use a contiguous --array such as 0-7",
            )
        return Shard((task - low) // step + 1, count, source="SLURM_ARRAY_TASK_ID")
    if "JOB_COMPLETION_INDEX" in env:
        index = _int(env, "JOB_COMPLETION_INDEX")
        if count is None:
            if "GRADPROOF_SHARD_COUNT" not in env:
                raise UsageError(
                    "JOB_COMPLETION_INDEX is set but the number of shards is not: "
                    "give --shard-count or GRADPROOF_SHARD_COUNT (the Job's completions)"
                )
            count = _int(env, "GRADPROOF_SHARD_COUNT")
        if index < 0:
            invalid("JOB_COMPLETION_INDEX", index, "must be ≥ 0")
        return Shard(index + 1, count, source="JOB_COMPLETION_INDEX")
    raise UsageError("shard='auto': none of SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX is set")


def resolve(shard: str | None, count: int | None, env: Mapping[str, str] | None = None) -> Shard | None:
    """The shard ``--shard``/``--shard-count`` ask for, or ``None`` to grade everything."""
    env = os.environ if env is None else env
    if shard is None and count is None:
        return None
    if shard is None or shard.strip().lower() == "auto":
        return from_environment(env, count)
    chosen = parse(shard)
    if count is not None and count != chosen.count:
        invalid("shard_count", count, f"disagrees with --shard {shard} (N = {chosen.count})")
    return chosen


def batch_fingerprint(files: Iterable[Path]) -> str:
    """Identifies the batch: the same list of paths gives the same fingerprint on every machine."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path).encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()


def plan(files: list[Path], shard: Shard | None) -> Plan:
    """This shard's slice of ``files`` (all of them without a shard)."""
    if shard is None:
        return Plan(files=list(files), positions=list(range(len(files))), info={})
    positions = shard.positions(len(files))
    info: ShardData = {
        "index": shard.index,
        "count": shard.count,
        "source": shard.source,
        "total": len(files),
        "positions": positions,
        "batch": batch_fingerprint(files),
    }
    return Plan(files=[files[i] for i in positions], positions=positions, info=info)


# ---------------------------------------------------------------- merge


def _read(folder: Path) -> ReportData:
    path = folder / "report.json"
    if not folder.is_dir():
        invalid("dir", str(folder), "no such folder")
    if not path.is_file():
        invalid("dir", str(folder), "holds no report.json (is it a gradproof --out folder?)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        invalid("report", str(path), f"cannot be read as JSON: {exc}")
    try:
        return report_from_json(data)
    except ValueError:
        invalid("report", str(path), "is not a gradproof report.json")


def _batch_of(data: ReportData) -> dict[str, object]:
    """What the shards of one batch share."""
    return {
        "assignment": data.get("assignment"),
        "tolerances": data.get("tolerances"),
        "version": data.get("version"),
        "visibility": data.get("visibility") or {},
    }


def merge(folders: list[Path]) -> ReportData:
    """The report data a single run would have written, from the shard outputs in ``folders``.

    Sharded outputs (a ``shard`` key) are put back in batch order and must
    cover the batch exactly once; unsharded ones are concatenated in the
    order given.  Mixing the two, or reports of different assignments,
    tolerances or gradproof versions, is refused.
    """
    if not folders:
        raise UsageError("dirs=[]: give the shard output folders to merge")
    reports = [(folder, _read(folder)) for folder in folders]
    first = reports[0][1]
    ours = _batch_of(first)
    for folder, data in reports[1:]:
        for key, theirs in _batch_of(data).items():
            if theirs != ours[key]:
                invalid(
                    key,
                    theirs,
                    f"in {folder} differs from {ours[key]!r} in {reports[0][0]}: these are not shards of one batch",
                )
    sharded = [bool(data.get("shard")) for _, data in reports]
    if any(sharded) and not all(sharded):
        plain = [str(f) for (f, data) in reports if not data.get("shard")]
        invalid("dirs", plain, "hold unsharded reports; merge shards of one batch, or only unsharded reports")
    if not any(sharded):
        verdicts = [v for _, data in reports for v in data["submissions"]]
        return report_data(verdicts, first["assignment"], first.get("tolerances") or {}, first.get("visibility"))

    shard0 = first["shard"]
    total, count, batch = shard0.get("total"), shard0.get("count"), shard0.get("batch")
    slots: dict[int, VerdictData] = {}
    seen: dict[int, Path] = {}
    for folder, data in reports:
        info = data["shard"]
        if (info.get("total"), info.get("count"), info.get("batch")) != (total, count, batch):
            invalid(
                "shard",
                f"{info.get('index')}/{info.get('count')}",
                f"in {folder} was cut from another batch than {reports[0][0]} "
                "(a different list of submissions or number of shards)",
            )
        index = info.get("index")
        if not isinstance(index, int) or index in seen:
            invalid(
                "shard",
                f"{index}/{count}",
                f"appears twice: in {seen.get(index)} and {folder}"
                if isinstance(index, int)
                else f"in {folder} has no valid index",
            )
        seen[index] = folder
        positions = info.get("positions")
        if not isinstance(positions, list) or len(positions) != len(data["submissions"]):
            invalid("shard", f"{index}/{count}", f"in {folder}: its positions do not match its submissions")
        for position, verdict in zip(positions, data["submissions"]):
            if position in slots:
                invalid("position", position, f"is graded twice (again in {folder})")
            slots[position] = verdict
    if not isinstance(total, int) or not isinstance(count, int):
        invalid("shard", shard0, "is not a valid shard record")
    missing_shards = [k for k in range(1, count + 1) if k not in seen and Shard(k, count).positions(total)]
    if missing_shards:
        raise UsageError(
            f"shards={', '.join(f'{k}/{count}' for k in missing_shards)}: missing; "
            f"give every shard's output folder ({len(seen)} of {count} given)"
        )
    missing = [i for i in range(total) if i not in slots]
    if missing:
        invalid("positions", missing[:10], "are not graded by any shard")
    verdicts = [slots[i] for i in range(total)]
    return report_data(verdicts, first["assignment"], first.get("tolerances") or {}, first.get("visibility"))


def write_journal(out: Path, verdicts: list[VerdictData], access: Access = PRIVATE) -> Path:
    """The merged batch's journal, so that ``grade --resume`` on the merged folder skips what is
    graded: its lines as the batch writes them (valid UTF-8), the file with ``access`` (0600)."""
    path = out / JOURNAL
    lines = "".join(json.dumps(valid_data(v), allow_nan=False, default=str) + "\n" for v in verdicts)
    write_atomic(path, lines, access)
    return path

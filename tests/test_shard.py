"""Sharded grading: deterministic slices, Slurm and Kubernetes indices, and a merge equal to one run."""

from __future__ import annotations

import grp
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.course.shard import Shard, batch_fingerprint, from_environment, merge, parse, plan, resolve
from harness.errors import UsageError
from harness.report.data import summary

SUBMISSIONS = Path(__file__).resolve().parent.parent / "submissions"
BATCH = ["bug_sign_flip_dW2.py", "broken_invalid_notebook.ipynb", "correct_script.py"]


# ---------------------------------------------------------------- slices


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_the_shards_of_a_batch_cover_every_submission_exactly_once(count: int) -> None:
    files = [Path(f"s{i}.py") for i in range(7)]
    taken = [p for k in range(1, count + 1) for p in plan(files, Shard(k, count)).files]
    assert sorted(taken) == sorted(files)
    sizes = [len(plan(files, Shard(k, count)).files) for k in range(1, count + 1)]
    assert max(sizes) - min(sizes) <= 1


def test_a_shard_takes_every_nth_submission_of_the_batch_in_order() -> None:
    files = [Path(f"s{i}.py") for i in range(7)]
    chosen = plan(files, Shard(2, 3))
    assert chosen.files == [Path("s1.py"), Path("s4.py")] and chosen.positions == [1, 4]
    assert chosen.info == {
        "index": 2,
        "count": 3,
        "source": "--shard",
        "total": 7,
        "positions": [1, 4],
        "batch": batch_fingerprint(files),
    }


def test_no_shard_grades_everything_and_adds_nothing_to_the_report() -> None:
    files = [Path("a.py"), Path("b.py")]
    assert plan(files, None).files == files and plan(files, None).info == {}
    assert resolve(None, None, {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"}) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/4", "shard='0/4': K counts from 1 and must be between 1 and 4"),
        ("5/4", "shard='5/4': K counts from 1 and must be between 1 and 4"),
        ("1/0", "shard='1/0': N must be a whole number ≥ 1"),
        ("two/4", "shard='two/4': expected K/N (shard K of N, K from 1), e.g. 2/8, or 'auto'"),
        ("3", "shard='3': expected K/N (shard K of N, K from 1), e.g. 2/8, or 'auto'"),
    ],
)
def test_a_bad_shard_is_a_usage_error_naming_it(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0"}, (1, 4)),
        ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0"}, (4, 4)),
        ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1"}, (1, 4)),
        (
            {
                "SLURM_ARRAY_TASK_ID": "12",
                "SLURM_ARRAY_TASK_COUNT": "4",
                "SLURM_ARRAY_TASK_MIN": "0",
                "SLURM_ARRAY_TASK_STEP": "4",
            },
            (4, 4),
        ),
        ({"JOB_COMPLETION_INDEX": "0", "GRADPROOF_SHARD_COUNT": "3"}, (1, 3)),
        ({"JOB_COMPLETION_INDEX": "2", "GRADPROOF_SHARD_COUNT": "3"}, (3, 3)),
    ],
)
def test_an_array_task_or_indexed_job_pod_finds_its_shard_in_the_environment(
    env: dict[str, str], expected: tuple[int, int]
) -> None:
    shard = resolve("auto", None, env)
    assert shard is not None and (shard.index, shard.count) == expected


def test_the_shard_count_option_names_the_count_of_an_indexed_job() -> None:
    shard = resolve(None, 5, {"JOB_COMPLETION_INDEX": "4"})
    assert shard == Shard(5, 5, source="JOB_COMPLETION_INDEX")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "shard='auto': none of SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX is set"),
        (
            {"JOB_COMPLETION_INDEX": "1"},
            "JOB_COMPLETION_INDEX is set but the number of shards is not: give --shard-count "
            "or GRADPROOF_SHARD_COUNT (the Job's completions)",
        ),
        (
            {"JOB_COMPLETION_INDEX": "3", "GRADPROOF_SHARD_COUNT": "3"},
            "shard='4/3': K counts from 1 and must be between 1 and 3",
        ),
        (
            {"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "2"},
            "SLURM_ARRAY_TASK_ID='x': expected a whole number",
        ),
        (
            {
                "SLURM_ARRAY_TASK_ID": "2",
                "SLURM_ARRAY_TASK_MIN": "0",
                "SLURM_ARRAY_TASK_STEP": "4",
                "SLURM_ARRAY_TASK_COUNT": "2",
            },
            "SLURM_ARRAY_TASK_ID=2: is not on the array's grid (min 0, step 4); use a contiguous --array such as 0-7",
        ),
    ],
)
def test_a_missing_or_bad_environment_is_a_usage_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        from_environment(env)
    assert str(caught.value) == message


def test_an_explicit_shard_must_agree_with_the_shard_count() -> None:
    with pytest.raises(UsageError, match=r"^shard_count=3: disagrees with --shard 1/4 \(N = 4\)$"):
        resolve("1/4", 3, {})


# ---------------------------------------------------------------- merge errors (no grading)


def _shard_out(folder: Path, index: int, count: int, total: int, batch: str = "b", **changes: Any) -> Path:
    positions = list(range(index - 1, total, count))
    data = {
        "tool": "gradproof",
        "version": "1",
        "assignment": "a",
        "tolerances": {},
        "submissions": [{"submission": f"s{i}.py", "score": 1.0} for i in positions],
        "shard": {
            "index": index,
            "count": count,
            "source": "--shard",
            "total": total,
            "positions": positions,
            "batch": batch,
        },
    }
    data.update(changes)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(data))
    return folder


def _diagnosed(i: int) -> dict[str, Any]:
    failed = {"id": "sign-flip" if i % 2 else "missing-factor-2", "message": f"mistake {i % 2}"}
    return {
        "submission": f"s{i}.py",
        "score": float(i % 3),
        "max_score": 2.0,
        "checks": [{"name": "dE_dW2", "status": "fail" if i % 3 != 2 else "pass", "diagnosis": failed}],
        "flags": [{"id": "autograd", "message": "", "evidence": []}] if i == 4 else [],
    }


def test_merge_computes_the_summary_again_from_the_merged_verdicts(tmp_path: Path) -> None:
    total, count = 7, 3
    dirs = []
    for k in (2, 3, 1):
        mine = [_diagnosed(i) for i in range(k - 1, total, count)]
        stale = {"checks": {}, "mistakes": {}, "flags": {"forged": 9}, "scores": {}}  # each shard's own, discarded
        dirs.append(_shard_out(tmp_path / f"s{k}", k, count, total, submissions=mine, summary=stale))
    merged = merge(dirs)
    whole = [_diagnosed(i) for i in range(total)]
    assert merged["summary"] == summary(whole)  # type: ignore[arg-type]
    assert merged["summary"]["flags"] == {"autograd": 1}
    assert [(m["id"], m["count"]) for m in merged["summary"]["mistakes"]["dE_dW2"]] == [
        ("missing-factor-2", 3),
        ("sign-flip", 2),
    ]
    assert merged["summary"]["mistakes"]["dE_dW2"][1]["submissions"] == ["s1.py", "s3.py"]


def test_merge_keeps_which_checks_the_spec_hides(tmp_path: Path) -> None:
    hidden = {"dE_dW1": "hidden"}
    dirs = [_shard_out(tmp_path / f"s{k}", k, 2, 3, visibility=hidden) for k in (1, 2)]
    assert merge(dirs)["visibility"] == hidden
    other = _shard_out(tmp_path / "other", 2, 2, 3)
    with pytest.raises(UsageError, match="visibility"):
        merge([dirs[0], other])


def test_merge_puts_every_verdict_back_at_its_place_in_the_batch(tmp_path: Path) -> None:
    dirs = [_shard_out(tmp_path / f"s{k}", k, 3, 7) for k in (3, 1, 2)]
    merged = merge(dirs)
    assert [v["submission"] for v in merged["submissions"]] == [f"s{i}.py" for i in range(7)]
    assert "shard" not in merged


def test_merge_names_the_missing_shards(tmp_path: Path) -> None:
    dirs = [_shard_out(tmp_path / "s1", 1, 4, 9), _shard_out(tmp_path / "s3", 3, 4, 9)]
    with pytest.raises(
        UsageError, match=r"^shards=2/4, 4/4: missing; give every shard's output folder \(2 of 4 given\)$"
    ):
        merge(dirs)


def test_merge_refuses_a_shard_given_twice(tmp_path: Path) -> None:
    dirs = [_shard_out(tmp_path / "a", 1, 2, 4), _shard_out(tmp_path / "b", 1, 2, 4)]
    with pytest.raises(UsageError, match=r"^shard='1/2': appears twice: in .*a and .*b$"):
        merge(dirs)


def test_merge_refuses_shards_of_different_batches(tmp_path: Path) -> None:
    dirs = [_shard_out(tmp_path / "a", 1, 2, 4, batch="x"), _shard_out(tmp_path / "b", 2, 2, 4, batch="y")]
    with pytest.raises(UsageError, match=r"^shard='2/2': in .*b was cut from another batch than .*a"):
        merge(dirs)


def test_merge_refuses_reports_of_different_assignments(tmp_path: Path) -> None:
    dirs = [_shard_out(tmp_path / "a", 1, 2, 4), _shard_out(tmp_path / "b", 2, 2, 4, assignment="other")]
    with pytest.raises(UsageError, match=r"^assignment='other': in .*b differs from 'a' in .*a"):
        merge(dirs)


def test_merge_refuses_a_folder_without_a_report(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"^dir='.*empty': holds no report.json \(is it a gradproof --out folder\?\)$"):
        merge([tmp_path / "empty"])


def test_merge_concatenates_unsharded_reports_in_the_order_given(tmp_path: Path) -> None:
    a = _shard_out(tmp_path / "a", 1, 1, 2, shard=None)
    b = _shard_out(tmp_path / "b", 1, 1, 1, shard=None)
    assert [v["submission"] for v in merge([b, a])["submissions"]] == ["s0.py", "s0.py", "s1.py"]


# ---------------------------------------------------------------- shards + merge == one run


def _timeless(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _timeless(v) for k, v in data.items() if k not in ("duration_s", "execution_time")}
    if isinstance(data, list):
        return [_timeless(v) for v in data]
    return data


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("shards")
    paths = [str(SUBMISSIONS / f) for f in BATCH]
    runner = CliRunner()
    fmt = ["--format", "json,md,junit,csv,html", "--jobs", "1", "-q"]
    single = runner.invoke(main, ["grade", *paths, "--out", str(base / "single"), *fmt])
    assert single.exit_code == 0, single.output
    outputs: dict[str, Any] = {"single": base / "single"}
    for k, env in (
        (1, {"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "2"}),
        (2, {"JOB_COMPLETION_INDEX": "1", "GRADPROOF_SHARD_COUNT": "2"}),
    ):
        result = runner.invoke(
            main, ["grade", *paths, "--out", str(base / f"shard{k}"), "--shard", "auto", *fmt], env=env
        )
        assert result.exit_code == 0, result.output
        outputs[f"shard{k}"] = base / f"shard{k}"
        outputs[f"shard{k}-output"] = result.output
    merged = runner.invoke(
        main,
        [
            "merge",
            str(base / "shard2"),
            str(base / "shard1"),
            "--out",
            str(base / "merged"),
            "--format",
            "json,md,junit,csv,html",
        ],
    )
    assert merged.exit_code == 0, merged.output
    assert merged.output == f"merged 2 folders: 3 submissions; reports in {base / 'merged'}\n"
    outputs["merged"] = base / "merged"
    return outputs


def test_each_shard_grades_its_slice_and_says_so(runs: dict[str, Any]) -> None:
    assert runs["shard1-output"].startswith("shard 1/2 (2 of 3): 2 submissions, 2 graded, 0 not gradable")
    assert runs["shard2-output"].startswith("shard 2/2 (1 of 3): 1 submissions, 0 graded, 1 not gradable")
    one = json.loads((runs["shard1"] / "report.json").read_text())
    assert [Path(v["submission"]).name for v in one["submissions"]] == [BATCH[0], BATCH[2]]
    assert one["shard"]["positions"] == [0, 2] and one["shard"]["source"] == "SLURM_ARRAY_TASK_ID"


def test_shards_merged_give_the_report_json_of_a_single_run_apart_from_timings(runs: dict[str, Any]) -> None:
    single = json.loads((runs["single"] / "report.json").read_text())
    merged = json.loads((runs["merged"] / "report.json").read_text())
    assert _timeless(merged) == _timeless(single)
    assert [v["submission"] for v in merged["submissions"]] == [str(SUBMISSIONS / f) for f in BATCH]
    assert merged["summary"] == single["summary"] and merged["summary"]["checks"]


def test_shards_merged_write_the_same_report_files_as_a_single_run(runs: dict[str, Any]) -> None:
    single = sorted(p.relative_to(runs["single"]) for p in runs["single"].rglob("*") if p.is_file())
    merged = sorted(p.relative_to(runs["merged"]) for p in runs["merged"].rglob("*") if p.is_file())
    assert merged == [p for p in single if p.name != "timings.json"]  # grade's timings: a merge grades nothing
    for rel in single:
        if rel.suffix in (".md", ".csv", ".html"):
            assert (runs["merged"] / rel).read_bytes() == (runs["single"] / rel).read_bytes(), rel
    untimed = re.compile(rb' time="[0-9.]+"')
    assert untimed.sub(b"", (runs["merged"] / "junit.xml").read_bytes()) == untimed.sub(
        b"", (runs["single"] / "junit.xml").read_bytes()
    )


def test_a_merged_folder_resumes_without_grading_again(runs: dict[str, Any]) -> None:
    journal = [json.loads(line) for line in (runs["merged"] / "journal.jsonl").read_text().splitlines()]
    assert [v["submission"] for v in journal] == [str(SUBMISSIONS / f) for f in BATCH]
    before = json.loads((runs["merged"] / "report.json").read_text())
    again = CliRunner().invoke(
        main, ["grade", *(str(SUBMISSIONS / f) for f in BATCH), "--out", str(runs["merged"]), "--resume", "-q"]
    )
    assert again.exit_code == 0, again.output
    assert _timeless(json.loads((runs["merged"] / "report.json").read_text())) == _timeless(before)


def test_a_merge_writes_every_file_its_owners_alone_or_given_to_a_group(runs: dict[str, Any]) -> None:
    merged = runs["merged"]
    for path in [p for p in merged.rglob("*") if p.is_file()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    group = grp.getgrgid(os.getegid())
    out = merged.parent / "merged-group"
    result = CliRunner().invoke(
        main, ["merge", str(runs["shard1"]), str(runs["shard2"]), "--out", str(out), "--group", group.gr_name]
    )
    assert result.exit_code == 0, result.output
    files = [p for p in out.rglob("*") if p.is_file()]
    pages = [p.name for p in (merged / "submissions").glob("*.md")]
    assert sorted(p.name for p in files) == sorted(["journal.jsonl", "report.json", "summary.md", *pages])
    for path in files:
        assert (stat.S_IMODE(path.stat().st_mode), path.stat().st_gid) == (0o640, group.gr_gid), path.name
    for folder in (out, out / "submissions"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o750, folder.name

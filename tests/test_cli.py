"""runner-cwl as a user runs it: outputs, exit codes, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA, ROOT


def test_version(run_cwl):
    result = run_cwl("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("runner-cwl ")
    assert "cwltool" in result.stdout


def test_example_workflow(run_cwl, tmp_path):
    result = run_cwl("--outdir", str(tmp_path), str(ROOT / "examples/wc.cwl"), str(ROOT / "examples/wc-inputs.yml"))
    assert result.returncode == 0, result.stderr
    out = result.json()
    assert (tmp_path / "total.txt").read_text().strip() == "60"
    assert [Path(f["path"]).read_text().strip() for f in out["counts"]] == ["10", "20", "30"]
    assert out["total"]["location"] == (tmp_path / "total.txt").as_uri()


def test_inputs_on_the_command_line(run_cwl, tmp_path):
    result = run_cwl("--outdir", str(tmp_path), str(DATA / "echo.cwl"), "--message", "hi there")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.txt").read_text() == "hi there\n"


def test_jobstore_removed_on_success_and_kept_when_asked(run_cwl, tmp_path):
    store = tmp_path / "store"
    args = ("--outdir", str(tmp_path / "o"), str(DATA / "echo.cwl"), "--message", "x")
    result = run_cwl("--jobstore", str(store), *args)
    assert result.returncode == 0, result.stderr
    assert not store.exists(), "--clean on-success is the default"
    result = run_cwl("--jobstore", str(store), "--keep-jobstore", *args)
    assert result.returncode == 0, result.stderr
    assert (store / "run.json").is_file()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    result = run_cwl(*args, env={"TMPDIR": str(tmp)})
    assert result.returncode == 0
    assert list(tmp.iterdir()) == [], "the temporary job store is gone after success"
    result = run_cwl("--clean", "never", *args, env={"TMPDIR": str(tmp)})
    assert [d.name.startswith("runner-cwl-jobstore-") for d in tmp.iterdir()] == [True]


def test_final_outputs_are_moved_only_out_of_a_store_that_goes(run_cwl, tmp_path):
    """A store removed after success gives its files up (moved: one name); a kept store
    keeps them (linked: two names), as a restart needs them there. (A workflow: after a
    lone tool, cwltool removes that tool's output directory from the store itself.)"""
    args = (str(DATA / "echo-wf.cwl"), "--message", "x")
    result = run_cwl("--outdir", str(tmp_path / "moved"), *args)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "moved" / "out.txt").stat().st_nlink == 1
    store = tmp_path / "store"
    result = run_cwl("--jobstore", str(store), "--keep-jobstore", "--outdir", str(tmp_path / "linked"), *args)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "linked" / "out.txt").stat().st_nlink == 2
    # (the job ran in a directory its thread lent it; its file is beside its outdir: job.flat_path)
    assert [p.read_text() for p in store.glob("work/out/*-out.txt")] == ["x\n"]


def test_failed_run_keeps_its_jobstore_unless_told(run_cwl, tmp_path):
    store = tmp_path / "store"
    result = run_cwl("--jobstore", str(store), "--outdir", str(tmp_path / "o"), str(DATA / "fail.cwl"))
    assert result.returncode == 1
    assert store.is_dir() and f"Job store kept: {store}" in result.stderr
    result = run_cwl("--jobstore", str(tmp_path / "s2"), "--clean", "always", str(DATA / "fail.cwl"))
    assert result.returncode == 1 and not (tmp_path / "s2").exists()


BAD_INPUTS = [
    # (arguments, exit code, text the one clear message must contain)
    (["data/nope.cwl"], 1, "no such CWL document: data/nope.cwl"),
    (["data/yaml-error.cwl"], 1, "data/yaml-error.cwl:5:1: expected ',' or ']'"),
    (["data/unknown-field.cwl"], 1, "invalid field 'colour'"),
    (["data/cat.cwl", "--file", "data/missing.txt"], 1, "missing.txt"),
    (["../examples/wc.cwl", "data/missing-input.yml"], 1, "input file not found: "),
    (["data/scatter-sleep.cwl", "data/wrongtype.yml"], 1, "wrongtype.yml:1:14: item is invalid because"),
    (["data/cat.cwl", "--file", "data/hello.txt", "--count", "many"], 2, "invalid int value: 'many'"),
    (["data/cat.cwl"], 2, "the following arguments are required: --file"),
    (["data/fail.cwl"], 1, "the real reason"),
    (["--no-container", "data/unsupported.cwl"], 33, "DockerRequirement"),
    (["data/big.cwl"], 1, "asks for 64 cores but --max-cores is 2"),
    (["--max-memory", "1G", "data/bigmem.cwl"], 1, "asks for 100000 MiB of RAM but --max-memory is 1024 MiB"),
    (["--max-gpus", "1", "--enable-ext", "data/gpu.cwl"], 1, "asks for 2 CUDA GPUs but --max-gpus is 1"),
]


@pytest.mark.parametrize("args,code,message", BAD_INPUTS, ids=[" ".join(a) for a, _, _ in BAD_INPUTS])
def test_bad_input(run_cwl, tmp_path, args, code, message):
    outdir = tmp_path / "out"
    result = run_cwl("--max-cores", "2", "--outdir", str(outdir), *args, cwd=DATA.parent)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) <= 1 or code != 1 or "job(s) failed" in result.stderr, errors
    assert not outdir.exists() or not any(outdir.iterdir()), "nothing half-written in --outdir"


def test_failing_tool_shows_stderr_tail_and_log(run_cwl, tmp_path):
    result = run_cwl("--outdir", str(tmp_path), str(DATA / "fail.cwl"))
    assert result.returncode == 1
    assert "exit code: 3" in result.stderr
    assert "about to fail" in result.stderr and "the real reason" in result.stderr
    assert "Job store kept: " in result.stderr


def test_on_error_continue_runs_independent_steps(run_cwl, tmp_path):
    result = run_cwl("--outdir", str(tmp_path), str(DATA / "partial-failure.cwl"))
    assert result.returncode == 1
    # the independent branch ran to its end although 'bad' failed first
    assert (tmp_path / "out.txt").read_text() == "after\n"
    assert "1 job(s) failed" in result.stderr
    assert "not run because a step they depend on failed: after_bad" in result.stderr


def test_on_error_stop_stops_at_first_failure(run_cwl, tmp_path):
    result = run_cwl("--on-error", "stop", "--outdir", str(tmp_path), str(DATA / "partial-failure.cwl"))
    assert result.returncode == 1
    assert not (tmp_path / "out.txt").exists()


def test_validate(run_cwl):
    result = run_cwl("--validate", str(DATA / "echo.cwl"))
    assert result.returncode == 0
    assert "is valid CWL" in result.stdout


def test_print_deps(run_cwl):
    result = run_cwl("--print-deps", str(DATA / "partial-failure.cwl"))
    assert result.returncode == 0
    assert "fail.cwl" in result.stdout and "sleep.cwl" in result.stdout


def test_numbers_keep_how_they_were_written(run_cwl, tmp_path):
    job = tmp_path / "job.yml"
    job.write_text("small: 0.0000123\n")
    result = run_cwl("--outdir", str(tmp_path / "out"), str(DATA / "floats.cwl"), str(job))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out/out.txt").read_text() == "0.0000123 1230000\n"

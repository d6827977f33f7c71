"""runner-cwl as a library: run() and the cwltool executor."""

from __future__ import annotations

import io
import json

import pytest
from conftest import DATA

import cwl_runner
from cwl_runner.api import WorkflowFailed


def test_run_returns_the_output_object(tmp_path):
    out = cwl_runner.run(str(DATA / "echo.cwl"), {"message": "embedded"}, outdir=str(tmp_path), max_cores=1)
    assert out["out"]["basename"] == "out.txt"
    assert out["out"]["path"] == str(tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_text() == "embedded\n"


def test_run_raises_on_failure(tmp_path):
    with pytest.raises(WorkflowFailed):
        cwl_runner.run(str(DATA / "fail.cwl"), {}, outdir=str(tmp_path))


def test_run_rejects_unknown_options(tmp_path):
    with pytest.raises(TypeError, match="no_such_option"):
        cwl_runner.run(str(DATA / "echo.cwl"), {"message": "x"}, outdir=str(tmp_path), no_such_option=1)


def test_cwltool_main_with_our_executor(tmp_path):
    import cwltool.main

    executor = cwl_runner.Executor(max_cores=2)
    stdout = io.StringIO()
    code = cwltool.main.main(
        ["--outdir", str(tmp_path), str(DATA / "echo.cwl"), "--message", "through cwltool"],
        executor=executor,
        stdout=stdout,
    )
    assert code == 0
    assert json.loads(stdout.getvalue())["out"]["basename"] == "out.txt"
    assert (tmp_path / "out.txt").read_text() == "through cwltool\n"
    assert executor.scheduler is not None and executor.scheduler.finished == 1

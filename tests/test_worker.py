"""A job record runs anywhere that reaches the job store."""

from __future__ import annotations

import subprocess
import sys

from conftest import DATA

from cwl_runner.job import JobRecord, JobResult, record_key, result_key
from cwl_runner.jobstore import LocalJobStore
from cwl_runner.worker import execute


def test_record_round_trips_through_json():
    record = JobRecord(id="7", name="step", argv=["echo", "hi"], env={"A": "b"}, cwd="/", cores=0.5, ram=100)
    assert JobRecord.from_json(record.to_json()) == record


def test_worker_entry_point_runs_a_stored_record(tmp_path):
    store = LocalJobStore(str(tmp_path / "store"))
    work = tmp_path / "work"
    work.mkdir()
    record = JobRecord(
        id="000001",
        name="greet",
        argv=["sh", "-c", "echo hello from $WHO; exit 4"],
        env={"WHO": "the worker", "PATH": "/usr/bin:/bin"},
        cwd=str(work),
        stdout=str(work / "out.txt"),
    )
    store.put(record_key(record.id), record.to_json())
    proc = subprocess.run(
        [sys.executable, "-m", "cwl_runner.worker", store.locator, record.id], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    result = JobResult.from_json(store.get(result_key(record.id)))
    assert result.exit_code == 4
    assert (work / "out.txt").read_text() == "hello from the worker\n"


def test_worker_unknown_job(tmp_path):
    store = LocalJobStore(str(tmp_path / "store"))
    proc = subprocess.run(
        [sys.executable, "-m", "cwl_runner.worker", store.locator, "nope"], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "no job nope" in proc.stderr


def test_time_limit_stops_the_job_and_its_children(tmp_path):
    record = JobRecord(
        id="1",
        name="slow",
        argv=["sh", "-c", "sleep 30 & sleep 30"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=str(tmp_path),
        timelimit=1,
    )
    result = execute(record)
    assert result.timed_out
    assert result.exit_code != 0
    assert result.ended - result.started < 10


def test_missing_command_is_reported(tmp_path):
    record = JobRecord(id="1", name="x", argv=["/no/such/program"], env={}, cwd=str(tmp_path))
    result = execute(record)
    assert result.exit_code == 127 and "/no/such/program" in (result.error or "")


def test_workflow_through_worker_processes(run_cwl, tmp_path):
    store = tmp_path / "store"
    result = run_cwl(
        "--worker-process",
        "--keep-jobstore",
        "--jobstore",
        str(store),
        "--outdir",
        str(tmp_path / "o"),
        str(DATA / "echo.cwl"),
        "--message",
        "via worker",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "o/out.txt").read_text() == "via worker\n"
    assert list((store / "jobs").iterdir()) and list((store / "results").iterdir())

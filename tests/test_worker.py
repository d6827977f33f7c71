"""A job record runs anywhere that reaches the job store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def test_a_bare_command_is_found_in_the_jobs_path_as_exec_would_and_found_again_when_moved(tmp_path):
    """The worker looks a command up in the job's PATH once (not one failed execve per
    PATH entry per job): the first executable entry wins, a non-executable file or a
    directory of that name is passed over, and a program removed since is searched again."""
    first, second, third = (tmp_path / name for name in ("a", "b", "c"))
    for directory in (first, second, third):
        directory.mkdir()
    (first / "tool").write_text("#!/bin/sh\necho not executable\n")  # no x bit: skipped
    (second / "tool").mkdir()  # a directory: skipped
    (third / "tool").write_text("#!/bin/sh\necho third $0\n")
    (third / "tool").chmod(0o755)
    env = {"PATH": f"{first}:{second}:{third}:/usr/bin:/bin"}

    def run(name: str) -> str:
        out = tmp_path / f"{name}.txt"
        record = JobRecord(id=name, name=name, argv=["tool"], env=env, cwd=str(tmp_path), stdout=str(out))
        result = execute(record)
        assert result.exit_code == 0, result.error
        return out.read_text()

    assert run("one") == f"third {third / 'tool'}\n"
    # moved: the looked-up place is gone, the job still starts (from the new place)
    (third / "tool").rename(first / "tool2")
    (first / "tool").unlink()
    (first / "tool2").rename(first / "tool")
    assert run("two") == f"third {first / 'tool'}\n"


def test_a_job_in_a_lent_output_directory(tmp_path):
    """worker.execute with a job thread's LentDirs and a record that may be flattened:
    the job runs in the lent directory (its cwd and HOME, its stdout there); exiting 0
    with its files found, they are renamed to their flat paths and the outdir is never
    made; otherwise the lent directory becomes the outdir, replacing an earlier
    attempt's."""
    from cwl_runner.job import flat_path
    from cwl_runner.jobthreads import LentDirs

    lent_dirs = LentDirs()
    outdir = str(tmp_path / "out" / "job1")
    (tmp_path / "out").mkdir()

    def record(code: int, attempt: int = 1) -> JobRecord:
        script = f'pwd; echo "$HOME"; echo {attempt} > kept.txt; [ {code} = 0 ] || echo junk > junk; exit {code}'
        return JobRecord(
            id="1",
            name="x",
            argv=["sh", "-c", script],
            env={"HOME": outdir, "PATH": "/usr/bin:/bin"},
            cwd=outdir,
            stdout=os.path.join(outdir, "out.txt"),
            outdir=outdir,
            make_dirs=[outdir],
            collect=["out.txt", "kept.txt"],
            flatten=True,
            attempt=attempt,
        )

    result = execute(record(0), lazy=True, lent_dirs=lent_dirs)
    assert result.exit_code == 0 and result.flattened and result.error is None
    assert not os.path.exists(outdir)
    where = Path(flat_path(outdir, "out.txt")).read_text().splitlines()
    assert where[0] == where[1] != outdir and os.path.dirname(where[0]) == str(tmp_path / "out")
    assert Path(flat_path(outdir, "kept.txt")).read_text() == "1\n"
    assert list(Path(where[0]).iterdir()) == [], "the lent directory, emptied, is kept for the next job"

    for attempt in (1, 2):
        result = execute(record(3, attempt), lazy=True, lent_dirs=lent_dirs)
        assert result.exit_code == 3 and not result.flattened and result.error is None
        assert sorted(p.name for p in Path(outdir).iterdir()) == ["junk", "kept.txt", "out.txt"]
        assert (Path(outdir) / "kept.txt").read_text() == f"{attempt}\n"
        assert Path(outdir, "out.txt").read_text().splitlines()[0] != outdir  # it ran elsewhere
        assert not os.path.exists(where[0]), "the kept lent directory went to the first failure"
    lent_dirs.remove_all()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["job1", "job1-kept.txt", "job1-out.txt"]

"""Workflows through a real one-node Slurm cluster."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time

import cwltool.main
import pytest
from conftest import DATA, needs_docker, run_s3, runner_cwl

import cwl_runner


def _squeue(*args: str) -> list[str]:
    proc = subprocess.run(["squeue", "-h", *args], capture_output=True, text=True, check=True)
    return [line.split() for line in proc.stdout.splitlines() if line.strip()]


def _run(tmp_path, *argv: str, **executor_options):
    executor = cwl_runner.Executor(batch_system="slurm", keep_jobstore=True, **executor_options)
    stdout, stderr = io.StringIO(), io.StringIO()
    code = cwltool.main.main(
        ["--outdir", str(tmp_path / "out"), *argv], executor=executor, stdout=stdout, stderr=stderr
    )
    return code, stdout.getvalue(), executor


def test_scatter_is_one_job_array(slurm_cluster, tmp_path):
    inputs = tmp_path / "in.json"
    inputs.write_text(json.dumps({"seconds": [0.1] * 5}))
    code, out, executor = _run(tmp_path, str(DATA / "scatter-sleep.cwl"), str(inputs))
    assert code == 0
    assert len(json.loads(out)["times"]) == 5
    assert executor.scheduler.backend.sbatch_calls == 1
    # measured on the node, carried back in the results, kept in the event log
    jobs = executor.events.to_dict()["jobs"]
    assert sorted(j["scatter_index"] for j in jobs) == [0, 1, 2, 3, 4]
    assert all(j["status"] == "success" and j["cpu"] > 0 and j["peak_rss"] > 0 for j in jobs), jobs


def test_without_arrays_one_sbatch_per_job(slurm_cluster, tmp_path):
    inputs = tmp_path / "in.json"
    inputs.write_text(json.dumps({"seconds": [0.1] * 3}))
    code, _, executor = _run(tmp_path, str(DATA / "scatter-sleep.cwl"), str(inputs), slurm_arrays=False)
    assert code == 0
    assert executor.scheduler.backend.sbatch_calls == 3


def test_failing_job_through_slurm(slurm_cluster, tmp_path):
    result = runner_cwl("--batch-system", "slurm", "--outdir", str(tmp_path), str(DATA / "fail.cwl"))
    assert result.returncode == 1
    assert "exit code: 3" in result.stderr and "the real reason" in result.stderr


def test_time_limit_through_slurm(slurm_cluster, tmp_path):
    started = time.monotonic()
    result = runner_cwl("--batch-system", "slurm", "--outdir", str(tmp_path), str(DATA / "slow.cwl"))
    assert result.returncode == 1
    assert "time limit" in result.stderr
    assert time.monotonic() - started < 45


def test_too_much_memory_is_refused_clearly(slurm_cluster, tmp_path):
    result = runner_cwl("--batch-system", "slurm", "--outdir", str(tmp_path), str(DATA / "bigmem.cwl"))
    assert result.returncode == 1
    assert "sbatch refused the job" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_leader_cancels_its_jobs(slurm_cluster, tmp_path, sig):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cwl_runner.cli",
            "--batch-system",
            "slurm",
            "--outdir",
            str(tmp_path),
            str(DATA / "sleep.cwl"),
            "--seconds",
            "120",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not [
        j for j in _squeue("-o", "%i %j %T") if j[1] == "sleep.cwl" and j[2] == "RUNNING"
    ]:
        time.sleep(0.3)
    assert [j for j in _squeue("-o", "%i %j %T") if j[1] == "sleep.cwl"], "the job never reached Slurm"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    live = [j for j in _squeue("-o", "%i %j %T", "-t", "PENDING,RUNNING,CONFIGURING,COMPLETING") if j[1] == "sleep.cwl"]
    assert not live, f"jobs left in the queue: {live}"


@needs_docker
def test_container_job_on_a_node(slurm_cluster, tmp_path):
    result = runner_cwl("--batch-system", "slurm", "--outdir", str(tmp_path), str(DATA / "docker-echo.cwl"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "version.txt").read_text().strip()[0].isdigit()


def test_arrays_are_chunked_to_max_array_size(slurm_cluster, tmp_path):
    from cwl_runner.backends.slurm import SlurmBackend
    from cwl_runner.job import JobRecord, record_key
    from cwl_runner.jobstore import LocalJobStore

    store = LocalJobStore(str(tmp_path / "store"))
    backend = SlurmBackend(store, store.workdir("logs"), max_array_size=2, batch_window=0)
    for i in range(5):
        record = JobRecord(
            id=f"{i:06d}",
            name=f"echo_{i + 1}" if i else "echo",
            argv=["sh", "-c", f"echo {i} > out{i}.txt"],
            env={"PATH": "/usr/bin:/bin"},
            cwd=str(tmp_path),
            cores=1,
            ram=64,
        )
        store.put(record_key(record.id), record.to_json())
        backend.submit(record)
    results = []
    deadline = time.monotonic() + 120
    while len(results) < 5 and time.monotonic() < deadline:
        results += backend.poll(5)
    assert sorted(r.id for r in results) == [f"{i:06d}" for i in range(5)]
    assert all(r.exit_code == 0 for r in results)
    assert backend.sbatch_calls == 3  # 2 + 2 + 1
    assert [(tmp_path / f"out{i}.txt").read_text() for i in range(5)] == [f"{i}\n" for i in range(5)]


def test_batches_run_several_jobs_per_array_task(slurm_cluster, tmp_path):
    inputs = tmp_path / "in.json"
    inputs.write_text(json.dumps({"seconds": [0.1, 0.2, 0.3, 0.4, 0.5]}))
    code, out, executor = _run(tmp_path, str(DATA / "scatter-sleep.cwl"), str(inputs), slurm_batch_size=2)
    assert code == 0
    assert len(json.loads(out)["times"]) == 5
    backend = executor.scheduler.backend
    assert backend.sbatch_calls == 1
    assert [len(task) for task in json.loads(backend.jobstore.get(next(backend.jobstore.list("arrays/"))))] == [2, 2, 1]


def test_s3_jobstore_through_slurm(slurm_cluster, s3, tmp_path):
    """Jobs on Slurm nodes upload their outputs into an S3 job store."""
    import uuid

    (tmp_path / "text.txt").write_text("slurm and s3\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "a.txt").write_text("a\n")
    run = run_s3(
        s3,
        "--batch-system",
        "slurm",
        "--jobstore",
        f"s3://runs/{uuid.uuid4().hex}",
        "--outdir",
        str(tmp_path / "out"),
        str(DATA / "s3" / "pipeline.cwl"),
        "--text",
        str(tmp_path / "text.txt"),
        "--folder",
        str(tmp_path / "folder"),
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "upper.txt").read_text() == "SLURM AND S3\n"
    assert run.json()["chars"] == 13

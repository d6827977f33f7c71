"""--detach: the leader runs in the background; status and kill reach it through the store."""

from __future__ import annotations

import json
import time

from conftest import DATA, runner_cwl


def _wait_for(store, status: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        out = runner_cwl("status", str(store)).stdout
        if f"status:    {status}" in out:
            return out
        time.sleep(0.3)
    raise AssertionError(f"never {status}: {out}")


def test_detach_returns_at_once_and_the_run_finishes(tmp_path):
    store = tmp_path / "store"
    started = time.monotonic()
    run = runner_cwl(
        "--detach", "--jobstore", str(store), "--outdir", str(tmp_path / "out"), str(DATA / "sleep.cwl"),
        "--seconds", "4",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - started < 4, "it waited for the run"
    assert "running in the background (pid" in run.stdout
    assert f"runner-cwl status {store}" in run.stdout and f"runner-cwl kill {store}" in run.stdout
    assert "status:    running" in runner_cwl("status", str(store)).stdout
    _wait_for(store, "success")
    output = json.loads((store / "output.json").read_text())  # the store is kept: it holds the output
    assert output["times"]["path"] == str(tmp_path / "out" / "times.txt")
    assert "Final process status is success" in (store / "leader.log").read_text()


def test_detach_without_a_jobstore_makes_one(tmp_path):
    run = runner_cwl("--detach", "--outdir", str(tmp_path / "out"), str(DATA / "echo.cwl"), "--message", "hi")
    assert run.returncode == 0, run.stderr
    store = next(line.split(": ", 1)[1] for line in run.stdout.splitlines() if "job store:" in line)
    _wait_for(store, "success")
    assert runner_cwl("clean", store).returncode == 0


def test_detached_run_is_stopped_by_kill(tmp_path):
    store = tmp_path / "store"
    run = runner_cwl(
        "--detach", "--jobstore", str(store), "--outdir", str(tmp_path / "out"), str(DATA / "sleep.cwl"),
        "--seconds", "120",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    killed = runner_cwl("kill", str(store))
    assert killed.returncode == 0, killed.stderr
    assert "interrupted" in runner_cwl("status", str(store)).stdout
    assert "runner-cwl --restart --jobstore" in (store / "leader.log").read_text()


def test_detach_reports_a_run_that_cannot_start(tmp_path):
    run = runner_cwl(
        "--detach", "--jobstore", str(tmp_path / "store"), str(DATA / "cat.cwl"), "--file", str(tmp_path / "nope.txt")
    )
    assert run.returncode == 1
    assert "the background run ended at once (exit 1)" in run.stderr
    assert "nope.txt" in run.stderr and "Traceback" not in run.stderr

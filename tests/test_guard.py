"""Jobs die with their leader: the guard's process group (cwl_runner/guard.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psutil
import pytest
from conftest import DATA

from cwl_runner.guard import Guard
from cwl_runner.job import JobRecord
from cwl_runner.worker import execute, terminate

needs_guard = pytest.mark.skipif(not Guard().usable, reason="the guard needs Python >= 3.11 and sh")


@needs_guard
def test_closing_the_guard_kills_its_group_and_what_jobs_started():
    guard = Guard()
    group = guard.pgid()
    assert group is not None and guard.pgid() == group  # one guard, reused
    # a job whose child stays behind in the group
    job = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], process_group=group)
    time.sleep(0.3)
    tree = [psutil.Process(job.pid), *psutil.Process(job.pid).children(recursive=True)]
    assert len(tree) == 2
    guard.close()
    assert job.wait(timeout=10) == -signal.SIGKILL
    assert not psutil.wait_procs(tree, timeout=10)[1]


@needs_guard
def test_a_dead_guard_is_replaced():
    guard = Guard()
    first = guard.pgid()
    assert first is not None
    psutil.Process(first).kill()
    psutil.Process(first).wait(timeout=10)
    second = guard.pgid()
    assert second is not None and second != first
    guard.close()


@needs_guard
def test_terminate_reaches_the_children_of_a_job_in_a_shared_group(tmp_path):
    guard = Guard()
    record = JobRecord(id="1", name="t", argv=["sh", "-c", "sleep 60 & sleep 60; wait"], env={}, cwd=str(tmp_path))
    procs: list[subprocess.Popen[bytes]] = []
    import threading

    done: list[int] = []
    thread = threading.Thread(
        target=lambda: done.append(execute(record, on_start=procs.append, process_group=guard.pgid()).exit_code)
    )
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (procs and psutil.Process(procs[0].pid).children()):
        time.sleep(0.05)
    children = psutil.Process(procs[0].pid).children(recursive=True)
    assert len(children) == 2
    terminate(procs[0], record, grace=2)
    thread.join(timeout=20)
    assert done == [-signal.SIGTERM]
    assert not psutil.wait_procs(children, timeout=10)[1]
    guard.close()


def test_jobs_die_when_their_leader_is_killed(tmp_path):
    leader = subprocess.Popen(
        [sys.executable, "-m", "cwl_runner.cli", "--outdir", str(tmp_path), str(DATA / "sleep.cwl"), "--seconds", "60"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    jobs: list[psutil.Process] = []
    while time.monotonic() < deadline and not jobs:
        jobs = [p for p in psutil.Process(leader.pid).children(True) if "time.sleep" in " ".join(p.cmdline())]
        time.sleep(0.1)
    assert jobs, "the job never started"
    leader.send_signal(signal.SIGKILL)
    leader.wait(timeout=30)
    assert not psutil.wait_procs(jobs, timeout=10)[1], "the job outlived its SIGKILLed leader"

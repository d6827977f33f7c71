"""The scheduler with the real local backend: concurrency, limits, order."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from conftest import DATA

from cwl_runner.backends.local import LocalBackend
from cwl_runner.errors import ResourceError
from cwl_runner.job import JobRecord
from cwl_runner.jobstore import LocalJobStore
from cwl_runner.scheduler import Limits, Scheduler


def _intervals(out: dict) -> list[tuple[float, float]]:
    spans = []
    for f in out["times"]:
        lines = Path(f["path"]).read_text().split()
        spans.append((float(lines[1]), float(lines[3])))
    return spans


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = cur = 0
    for _, delta in events:
        cur += delta
        best = max(best, cur)
    return best


@pytest.mark.parametrize("max_cores,expected", [(1, 1), (2, 2), (4, 4)])
def test_scatter_runs_side_by_side_within_max_cores(run_cwl, tmp_path, max_cores, expected):
    inputs = tmp_path / "in.json"
    inputs.write_text(json.dumps({"seconds": [0.6] * 4}))
    result = run_cwl(
        "--max-cores", str(max_cores), "--outdir", str(tmp_path / "o"), str(DATA / "scatter-sleep.cwl"), str(inputs)
    )
    assert result.returncode == 0, result.stderr
    assert _max_overlap(_intervals(result.json())) == expected


def test_core_requests_are_accounted(run_cwl, tmp_path):
    inputs = tmp_path / "in.json"
    inputs.write_text(json.dumps({"seconds": [0.5] * 3, "cores": 2}))
    result = run_cwl("--max-cores", "4", "--outdir", str(tmp_path / "o"), str(DATA / "scatter-sleep.cwl"), str(inputs))
    assert result.returncode == 0, result.stderr
    assert _max_overlap(_intervals(result.json())) == 2  # 2 cores each on 4


def _record(store: LocalJobStore, job_id: str, cores: float, seconds: float = 0.0) -> JobRecord:
    return JobRecord(
        id=job_id,
        name=f"job{job_id}",
        argv=[sys.executable, "-c", f"import time; time.sleep({seconds})"],
        env={},
        cwd=str(store.root),
        cores=cores,
        ram=10,
    )


def test_big_job_does_not_block_small_ones(tmp_path):
    store = LocalJobStore(str(tmp_path / "store"))
    scheduler = Scheduler(LocalBackend(store), Limits(cores=2, ram=1000))
    order: list[str] = []
    scheduler.submit(_record(store, "a", 1, 0.5), lambda r: order.append(r.id))
    scheduler.submit(_record(store, "big", 2), lambda r: order.append(r.id))
    scheduler.submit(_record(store, "small", 1), lambda r: order.append(r.id))
    # 'big' cannot start while 'a' runs; 'small' fits beside 'a' and starts at once
    assert {r.id for r in scheduler.running()} == {"a", "small"}
    while scheduler.busy():
        scheduler.wait(None)
    assert order == ["small", "a", "big"]
    assert scheduler.free_cores == 2 and scheduler.free_ram == 1000


def test_impossible_job_is_refused_at_once(tmp_path):
    store = LocalJobStore(str(tmp_path / "store"))
    scheduler = Scheduler(LocalBackend(store), Limits(cores=2, ram=1000))
    with pytest.raises(ResourceError, match="--max-cores"):
        scheduler.submit(_record(store, "x", 3), lambda r: None)
    big_ram = _record(store, "y", 1)
    big_ram.ram = 5000
    with pytest.raises(ResourceError, match="--max-memory"):
        scheduler.submit(big_ram, lambda r: None)
    assert not scheduler.busy()


def test_cancel_all_kills_running_jobs(tmp_path):
    store = LocalJobStore(str(tmp_path / "store"))
    scheduler = Scheduler(LocalBackend(store), Limits(cores=1, ram=1000))
    results = []
    scheduler.submit(_record(store, "long", 1, 60), results.append)
    scheduler.submit(_record(store, "queued", 1, 60), results.append)
    scheduler.wait(0.3)
    scheduler.cancel_all()
    while scheduler.busy():
        scheduler.wait(30)
    assert [r.id for r in results] == ["long"]
    assert results[0].exit_code != 0


def test_a_freed_core_takes_the_next_job_before_the_callback_runs(tmp_path):
    """A job that ended well gives its core to the next queued job before the leader
    handles it; after a failure the callback comes first (--on-error stop)."""
    store = LocalJobStore(str(tmp_path / "store"))
    scheduler = Scheduler(LocalBackend(store), Limits(cores=1, ram=1000))
    running_at_callback: dict[str, list[str]] = {}

    def note(result):
        running_at_callback[result.id] = [r.id for r in scheduler.running()]

    scheduler.submit(_record(store, "first", 1), note)
    scheduler.submit(_record(store, "second", 1, 0.3), note)
    failing = _record(store, "fails", 1)
    failing.argv = [sys.executable, "-c", "raise SystemExit(3)"]
    scheduler.submit(failing, note)
    scheduler.submit(_record(store, "last", 1), note)
    while scheduler.busy():
        scheduler.wait(None)
    assert running_at_callback["first"] == ["second"]  # already started
    assert running_at_callback["second"] == ["fails"]
    assert running_at_callback["fails"] == []  # a failure: nothing started before its callback
    assert running_at_callback["last"] == []


def _wait_for_results(backend: LocalBackend, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while backend._done.qsize() < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_job_thread_hands_its_core_to_the_next_queued_job(tmp_path):
    """Hand-off: the thread of a job that succeeded starts the next queued job itself,
    while the leader does nothing; the leader then hears of every start before that
    job's end, handles each result once, and gets its resources back whole."""
    store = LocalJobStore(str(tmp_path / "store"))
    backend = LocalBackend(store)
    scheduler = Scheduler(backend, Limits(cores=1, ram=1000))
    events: list[tuple[str, str]] = []
    scheduler.on_start = lambda record: events.append(("start", record.id))
    ids = [f"j{i}" for i in range(6)]
    for job_id in ids:
        scheduler.submit(_record(store, job_id, 1), lambda result: events.append(("end", result.id)))
    _wait_for_results(backend, len(ids))  # no scheduler.wait() meanwhile
    assert backend._done.qsize() == len(ids), "the queued jobs waited for the leader"
    while scheduler.busy():
        scheduler.wait(None)
    for job_id in ids:
        assert events.count(("start", job_id)) == 1 and events.count(("end", job_id)) == 1
        assert events.index(("start", job_id)) < events.index(("end", job_id))
    assert [e for e in events if e[0] == "end"] == [("end", i) for i in ids]  # one core: in order
    assert scheduler.started == scheduler.finished == len(ids)
    assert scheduler.free_cores == 1 and scheduler.free_ram == 1000


def test_after_a_failure_only_the_leader_starts_jobs(tmp_path):
    store = LocalJobStore(str(tmp_path / "store"))
    backend = LocalBackend(store)
    scheduler = Scheduler(backend, Limits(cores=1, ram=1000))
    ended: list[str] = []
    failing = _record(store, "fails", 1)
    failing.argv = [sys.executable, "-c", "raise SystemExit(3)"]
    for record in (_record(store, "ok", 1), failing, _record(store, "after", 1), _record(store, "last", 1)):
        scheduler.submit(record, lambda result: ended.append(result.id))
    _wait_for_results(backend, 2)
    time.sleep(0.5)  # time enough for "after" to start, were it handed off
    assert backend._done.qsize() == 2  # "ok", then "fails" (handed off); nothing after it
    while scheduler.busy():
        scheduler.wait(None)
    assert ended == ["ok", "fails", "after", "last"]
    assert scheduler.free_cores == 1


def test_the_running_jobs_can_be_listed_while_job_threads_hand_off(tmp_path):
    """The leader lists running jobs (progress, the run record) while job threads add
    the jobs they hand off to: it must never see the set change under it."""
    store = LocalJobStore(str(tmp_path / "store"))
    backend = LocalBackend(store)
    scheduler = Scheduler(backend, Limits(cores=2, ram=1000))
    ended: list[str] = []
    for i in range(300):
        record = _record(store, f"j{i}", 1)
        record.argv = ["true"]
        scheduler.submit(record, lambda result: ended.append(result.id))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        listed = 0
        while scheduler.busy():
            listed += len(scheduler.running())
            scheduler.wait(0)
    finally:
        sys.setswitchinterval(interval)
    assert len(ended) == 300 and listed > 0
    assert scheduler.free_cores == 2

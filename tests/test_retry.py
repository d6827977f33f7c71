"""Failures by class: which are retried, how often, and what the report says.

The decision itself (retry.py) is a pure function of the record and the result, so
its table is tested directly; every class is then produced for real by a tool
(tests/data/flaky.cwl) that fails its first runs in a chosen way.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from conftest import DATA, runner_cwl

from cwl_runner import memlimit
from cwl_runner.job import JobRecord, JobResult
from cwl_runner.retry import FaultInjector, RetryPolicy, classify


def _record(**kw) -> JobRecord:
    return JobRecord(id="000001", name="step", argv=["true"], env={}, cwd="/", **kw)


@pytest.mark.parametrize(
    "result,kind",
    [
        (JobResult("1", 0), None),
        (JobResult("1", 1), "task"),
        (JobResult("1", -signal.SIGSEGV), "task"),
        (JobResult("1", -signal.SIGKILL), "system"),
        (JobResult("1", -signal.SIGTERM), "system"),
        (JobResult("1", 127, error="tool: No such file or directory", failure="task"), "task"),
        (JobResult("1", 1, error="worker lost", failure="system"), "system"),
        (JobResult("1", -signal.SIGKILL, injected=True), "system"),
        (JobResult("1", -signal.SIGKILL, failure="memory"), "memory"),
        (JobResult("1", -signal.SIGTERM, timed_out=True), "timeout"),
    ],
)
def test_classify(result, kind):
    assert classify(_record(), result) == kind


def test_success_codes_decide_success():
    record = _record(success_codes=[0, 4])
    assert classify(record, JobResult("1", 4)) is None


def test_the_retry_table():
    policy = RetryPolicy(retry_count=0, max_system_retries=2, max_ram=1000)
    codes = {"temporary_fail_codes": [75], "permanent_fail_codes": [3]}
    assert not policy.decide(_record(**codes), JobResult("1", 1)).retry  # task: not without --retry-count
    assert policy.decide(_record(**codes), JobResult("1", 75)).retry  # temporaryFail: once by default
    assert not policy.decide(_record(attempt=2, **codes), JobResult("1", 75)).retry
    assert not RetryPolicy(retry_count=5).decide(_record(**codes), JobResult("1", 3)).retry  # permanentFail: never
    assert RetryPolicy(retry_count=2).decide(_record(attempt=2), JobResult("1", 1)).retry
    assert not RetryPolicy(retry_count=2).decide(_record(attempt=3), JobResult("1", 1)).retry
    # system: backoff doubles, up to the limit
    first = policy.decide(_record(), JobResult("1", -9))
    second = policy.decide(_record(attempt=2), JobResult("1", -9))
    assert first.retry and second.retry and second.delay == 2 * first.delay
    assert not policy.decide(_record(attempt=3), JobResult("1", -9)).retry
    # memory: once, with twice the memory, capped
    memory = policy.decide(_record(ram=300), JobResult("1", -9, failure="memory"))
    assert memory.retry and memory.ram == 600
    again = RetryPolicy.next_attempt(_record(ram=300), memory)
    assert again.ram == 600 and again.attempt == 2 and again.memory_retries == 1 and again.id == "000001r2"
    assert not policy.decide(again, JobResult(again.id, -9, failure="memory")).retry
    assert policy.decide(_record(ram=800), JobResult("1", -9, failure="memory")).ram == 1000
    assert not policy.decide(_record(ram=1000), JobResult("1", -9, failure="memory")).retry
    assert policy.tally.retried == {"task": 1, "system": 2, "memory": 2, "timeout": 0}


def test_fault_injection_is_seeded_and_spares_retries():
    def picks(seed: int) -> list[bool]:
        injector = FaultInjector(0.3, seed)
        records = [_record() for _ in range(200)]
        for record in records:
            injector.plan(record)
        return [r.fault_after is not None for r in records]

    assert picks(1) == picks(1)
    assert 40 <= sum(picks(1)) <= 80
    retry = _record(attempt=2)
    FaultInjector(0.99, 1).plan(retry)
    assert retry.fault_after is None


def _flaky(tmp_path: Path, mode: str, *options: str, fails: int = 1):
    state = tmp_path / f"{mode}.count"
    outdir = tmp_path / f"out-{mode}"
    store = tmp_path / f"store-{mode}"
    run = runner_cwl(
        "--jobstore",
        str(store),
        "--clean",
        "never",
        "--outdir",
        str(outdir),
        *options,
        str(DATA / "flaky.cwl"),
        "--mode",
        mode,
        "--state",
        str(state),
        "--fails",
        str(fails),
    )
    runs = int(state.read_text()) if state.exists() else 0
    return run, runs, json.loads((store / "run.json").read_text())


@pytest.mark.parametrize(
    "mode,options,succeeds,runs,kind",
    [
        ("exit1", [], False, 1, "task"),  # a failing command is not retried by default
        ("exit1", ["--retry-count", "2"], True, 2, None),
        ("exit3", ["--retry-count", "2"], False, 1, "task"),  # permanentFailCodes: never
        ("exit75", [], True, 2, None),  # temporaryFailCodes: once by default
        ("segv", [], False, 1, "task"),  # a crash is the tool's fault
        ("sigkill", [], True, 2, None),  # killed from outside: a system failure, retried
        ("sigkill", ["--max-system-retries", "0"], False, 1, "system"),
        ("killworker", ["--worker-process"], True, 2, None),  # the worker process died
    ],
)
def test_failure_classes(tmp_path, mode, options, succeeds, runs, kind):
    run, ran, state = _flaky(tmp_path, mode, *options)
    assert "Traceback" not in run.stderr
    assert ran == runs, run.stderr
    if succeeds:
        assert run.returncode == 0, run.stderr
        assert Path(run.json()["out"]["path"]).read_text() == "ok\n"
        assert state["succeeded_after_retry"] == 1
        assert sum(state["retries"].values()) == 1
    else:
        assert run.returncode == 1
        (failure,) = state["failures"]
        assert failure["kind"] == kind and failure["attempts"] == runs
        assert f"({'permanentFail'}: {kind} failure, 1 attempt)" in run.stderr
        assert "job logs: " in run.stderr and failure["log"]
        if mode == "sigkill":
            assert "killed by signal SIGKILL" in run.stderr


def test_retries_exhausted_report_attempts(tmp_path):
    run, ran, state = _flaky(tmp_path, "sigkill", "--max-system-retries", "2", fails=5)
    assert run.returncode == 1 and ran == 3
    assert "(permanentFail: system failure, 3 attempts)" in run.stderr
    assert state["failures"][0]["attempts"] == 3 and state["retries"] == {"system": 2}
    log = Path(state["failures"][0]["log"]).read_text()
    assert "--- runner-cwl: attempt 3 ---" in log  # every attempt's output, in one log


def test_inject_faults_scatter_completes(tmp_path):
    """50 jobs, 30 % of them SIGKILLed mid-run: all retried, outputs all correct."""
    values = [str(i) for i in range(50)]
    inputs = tmp_path / "in.json"
    inputs.write_text(json.dumps({"values": values}))
    store = tmp_path / "store"
    run = runner_cwl(
        "--inject-faults",
        "0.3",
        "--inject-faults-seed",
        "7",
        "--jobstore",
        str(store),
        "--keep-jobstore",
        "--outdir",
        str(tmp_path / "out"),
        str(DATA / "scatter-slow.cwl"),
        str(inputs),
    )
    assert run.returncode == 0, run.stderr
    outputs = [Path(f["path"]).read_text().strip() for f in run.json()["out"]]
    assert outputs == values
    state = json.loads((store / "run.json").read_text())
    injected = state["faults_injected"]
    assert 8 <= injected <= 22, state  # about 15 of the 50 jobs
    assert state["retries"] == {"system": injected}
    assert state["succeeded_after_retry"] == injected
    assert state["counts"]["finished"] == 50 and state["counts"]["started"] == 50 + injected
    assert f"{injected} fault(s) injected" in run.stderr
    print(f"fault injection: {injected} of 50 jobs SIGKILLed mid-run, all retried, all 50 outputs correct")


needs_cgroup = pytest.mark.skipif(not memlimit.available(), reason="no writable memory cgroup on this machine")


@needs_cgroup
def test_memory_exceeded_is_retried_with_twice_the_memory(tmp_path):
    store = tmp_path / "store"
    run = runner_cwl(
        "--enforce-memory",
        "--jobstore",
        str(store),
        "--keep-jobstore",
        "--outdir",
        str(tmp_path / "out"),
        str(DATA / "memhog.cwl"),
        "--mb",
        "90",
    )
    assert run.returncode == 0, run.stderr
    assert "memory failure (attempt 1): retrying (64 -> 128 MiB)" in run.stderr
    assert json.loads((store / "run.json").read_text())["retries"] == {"memory": 1}


@needs_cgroup
def test_memory_exceeded_twice_is_a_memory_failure(tmp_path):
    store = tmp_path / "store"
    run = runner_cwl(
        "--enforce-memory", "--jobstore", str(store), "--outdir", str(tmp_path / "out"), str(DATA / "memhog.cwl"),
        "--mb", "300",
    )  # fmt: skip
    assert run.returncode == 1
    assert "(permanentFail: memory failure, 2 attempts)" in run.stderr
    failure = json.loads((store / "run.json").read_text())["failures"][0]
    assert failure["kind"] == "memory" and failure["attempts"] == 2


@needs_cgroup
def test_memory_within_limit_runs_once(tmp_path):
    run = runner_cwl("--enforce-memory", "--outdir", str(tmp_path), str(DATA / "memhog.cwl"), "--mb", "20")
    assert run.returncode == 0, run.stderr
    assert "retrying" not in run.stderr


@pytest.mark.parametrize(
    "state,kind",
    [("OUT_OF_MEMORY", "memory"), ("NODE_FAIL", "system"), ("PREEMPTED", "system"), ("TIMEOUT", "timeout")],
)
def test_slurm_verdicts_have_failure_classes(state, kind):
    from cwl_runner.backends.slurm import SlurmBackend, _Submitted

    result = SlurmBackend._slurm_failure(None, _Submitted(_record(), "42", 0.0), state, "None")  # type: ignore[arg-type]
    assert result.failure == kind and classify(_record(), result) == kind

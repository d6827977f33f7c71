"""The Slurm backend: each job is ``python -m cwl_runner.worker`` on a compute node.

Jobs submitted close together with the same resources (typically one scatter)
go into one ``sbatch --array`` submission, chunked to the cluster's
MaxArraySize; the worker finds its job through ``SLURM_ARRAY_TASK_ID`` and a
manifest in the job store. State is polled for all jobs at once (one ``squeue``
per interval, with backoff); a job's result is the one its worker wrote to the
job store, or, when it never wrote one, what Slurm says became of it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

from ..errors import ConfigurationError
from ..job import SECRETS_ENV, JobRecord, JobResult, result_key
from ..jobstore import JobStore
from .base import Backend

_logger = logging.getLogger("runner-cwl")

#: states after which a Slurm job will not run again
TERMINAL = {
    "COMPLETED",
    "FAILED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "PREEMPTED",
    "CANCELLED",
    "BOOT_FAIL",
    "DEADLINE",
    "REVOKED",
    "SPECIAL_EXIT",
}
#: states in which the job did nothing wrong: system failures, retried (retry.py)
RETRY = {"NODE_FAIL", "PREEMPTED", "BOOT_FAIL"}
ENV_ARGS = "RUNNER_CWL_SLURM_ARGS"


@dataclass
class _Submitted:
    record: JobRecord
    slurm_id: str  # "123" or "123_4" for an array task
    submitted: float
    missing_since: float | None = None


@dataclass
class _Pending:
    records: list[JobRecord] = field(default_factory=list)
    since: float = 0.0


class SlurmBackend(Backend):
    name = "slurm"

    def __init__(
        self,
        jobstore: JobStore,
        log_dir: str,
        slurm_args: str | None = None,
        use_arrays: bool = True,
        max_array_size: int | None = None,
        batch_window: float = 0.5,
        batch_size: int = 1,
    ) -> None:
        for tool in ("sbatch", "squeue", "scancel"):
            if shutil.which(tool) is None:
                raise ConfigurationError(f"--batch-system slurm: '{tool}' is not on PATH (is Slurm installed here?)")
        self.jobstore = jobstore
        self.log_dir = log_dir
        extra = os.environ.get(ENV_ARGS, "") + " " + (slurm_args or "")
        self.extra_args = shlex.split(extra)
        self.use_arrays = use_arrays
        self.max_array_size = max_array_size or _max_array_size()
        self.batch_window = batch_window
        self.batch_size = max(1, batch_size)
        self._pending = _Pending()
        self._jobs: dict[str, _Submitted] = {}  # our job id -> submission
        self._arrays = 0
        self._interval = 0.2
        self.sbatch_calls = 0

    # -- submission ----------------------------------------------------------------
    def submit(self, record: JobRecord) -> None:
        if not self._pending.records:
            self._pending.since = time.monotonic()
        self._pending.records.append(record)

    def _flush(self, force: bool) -> None:
        pending = self._pending
        if not pending.records or (not force and time.monotonic() - pending.since < self.batch_window):
            return
        self._pending = _Pending()
        groups: dict[tuple, list[JobRecord]] = {}
        for record in pending.records:
            key = (math.ceil(record.cores), record.ram, record.gpus, record.timelimit, _stem(record.name))
            groups.setdefault(key, []).append(record)
        for records in groups.values():
            if self.use_arrays and len(records) > 1:
                tasks = [records[i : i + self.batch_size] for i in range(0, len(records), self.batch_size)]
                for start in range(0, len(tasks), self.max_array_size):
                    self._submit_array(tasks[start : start + self.max_array_size])
            else:
                for record in records:
                    self._submit_one(record)

    def _resource_args(self, record: JobRecord) -> list[str]:
        args = [f"--cpus-per-task={max(1, math.ceil(record.cores))}", f"--mem={max(1, record.ram)}M"]
        if record.timelimit:
            args.append(f"--time={math.ceil(record.timelimit / 60) + 1}")
        if record.gpus:
            args.append(f"--gres=gpu:{record.gpus}")
        return args

    def _worker_command(self, *args: str) -> str:
        return shlex.join([sys.executable, "-m", "cwl_runner.worker", self.jobstore.locator, *args])

    def _sbatch(self, args: list[str], command: str, records: list[JobRecord]) -> str:
        cmd = ["sbatch", "--parsable", "--export=ALL", *args, *self.extra_args, f"--wrap={command}"]
        self.sbatch_calls += 1
        secrets = {k: v for r in records for k, v in r.secrets.items()}
        # secrets reach the worker through the job's environment (--export=ALL), never the store
        env = {**os.environ, SECRETS_ENV: json.dumps(secrets)} if secrets else None
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)
        if proc.returncode != 0:
            raise RuntimeError((proc.stderr.strip().splitlines() or ["sbatch failed"])[-1])
        return proc.stdout.strip().split(";")[0]

    def _submit_one(self, record: JobRecord) -> None:
        out = os.path.join(self.log_dir, f"{record.id}-{_safe(record.name)}.slurm.log")
        try:
            slurm_id = self._sbatch(
                [f"--job-name={_safe(record.name)}", f"--output={out}", *self._resource_args(record)],
                self._worker_command(record.id),
                [record],
            )
        except RuntimeError as err:
            self._fail_now(record, f"sbatch refused the job: {err}", "task")
            return
        except (subprocess.TimeoutExpired, OSError) as err:
            self._fail_now(record, f"sbatch failed: {err}", "system")
            return
        self._jobs[record.id] = _Submitted(record, slurm_id, time.monotonic())

    def _submit_array(self, tasks: list[list[JobRecord]]) -> None:
        """One ``sbatch --array``; each task runs its records one after the other."""
        self._arrays += 1
        first = tasks[0][0]
        manifest = f"arrays/{first.id}-{self._arrays}.json"
        self.jobstore.put(manifest, json.dumps([[r.id for r in task] for task in tasks]).encode())
        name = _safe(_stem(first.name))
        out = os.path.join(self.log_dir, f"%A_%a-{name}.slurm.log")
        args = self._resource_args(first)
        if first.timelimit and len(tasks[0]) > 1:  # a task runs several jobs in turn
            args = [a for a in args if not a.startswith("--time=")]
            args.append(f"--time={math.ceil(first.timelimit * len(tasks[0]) / 60) + 1}")
        try:
            array_id = self._sbatch(
                [f"--array=0-{len(tasks) - 1}", f"--job-name={name}", f"--output={out}", *args],
                self._worker_command("--array", manifest),
                [r for task in tasks for r in task],
            )
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as err:
            failure = "task" if isinstance(err, RuntimeError) else "system"
            for task in tasks:
                for record in task:
                    self._fail_now(record, f"sbatch refused the job array: {err}", failure)
            return
        now = time.monotonic()
        for index, task in enumerate(tasks):
            for record in task:
                self._jobs[record.id] = _Submitted(record, f"{array_id}_{index}", now)

    def _fail_now(self, record: JobRecord, message: str, failure: str) -> None:
        self.jobstore.put(result_key(record.id), JobResult(record.id, 1, error=message, failure=failure).to_json())
        self._jobs[record.id] = _Submitted(record, "", time.monotonic())

    # -- state -------------------------------------------------------------------------
    def poll(self, timeout: float | None) -> list[JobResult]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._flush(force=timeout != 0)
            results = self._check()
            if results:
                self._interval = 0.2
                return results
            if deadline is not None and time.monotonic() >= deadline:
                return []
            if not self._jobs and not self._pending.records:
                return []
            pause = self._interval if deadline is None else min(self._interval, max(0.0, deadline - time.monotonic()))
            time.sleep(pause)
            self._interval = min(self._interval * 1.5, 2.0)

    def _states(self) -> dict[str, tuple[str, str]]:
        """Slurm id -> (state, reason) for every job Slurm still lists."""
        ids = sorted({s.slurm_id.split("_")[0] for s in self._jobs.values() if s.slurm_id})
        if not ids:
            return {}
        proc = subprocess.run(
            ["squeue", "-h", "-t", "all", "-r", "-o", "%i|%T|%r", "-j", ",".join(ids)],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        states = {}
        for line in proc.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) == 3:
                states[parts[0]] = (parts[1], parts[2])
        return states

    def _check(self) -> list[JobResult]:
        results = []
        states: dict[str, tuple[str, str]] | None = None
        for job_id, sub in list(self._jobs.items()):
            stored = self._stored_result(job_id)
            if stored is not None:
                results.append(stored)
                del self._jobs[job_id]
                continue
            if states is None:
                states = self._states()
            state, reason = states.get(sub.slurm_id, ("", ""))
            if state in TERMINAL:
                # the worker may have written its result just after we looked
                stored = self._stored_result(job_id)
                results.append(stored or self._slurm_failure(sub, state, reason))
                del self._jobs[job_id]
            elif not state:
                now = time.monotonic()
                sub.missing_since = sub.missing_since or now
                if now - sub.missing_since > 30 and now - sub.submitted > 30:
                    results.append(
                        JobResult(
                            job_id, 1, error=f"Slurm job {sub.slurm_id} disappeared without a result", failure="system"
                        )
                    )
                    del self._jobs[job_id]
            else:
                sub.missing_since = None
        return results

    def _stored_result(self, job_id: str) -> JobResult | None:
        try:
            return JobResult.from_json(self.jobstore.get(result_key(job_id)))
        except KeyError:
            return None

    def _slurm_failure(self, sub: _Submitted, state: str, reason: str) -> JobResult:
        what = {
            "TIMEOUT": "exceeded its Slurm time limit",
            "OUT_OF_MEMORY": "exceeded its memory (Slurm OUT_OF_MEMORY)",
            "CANCELLED": "was cancelled",
        }.get(state, f"ended {state}")
        detail = f" ({reason})" if reason and reason != "None" else ""
        # the worker wrote no result: it did not finish the command (a tool that
        # failed still has a stored result), so the job itself is not to blame
        failure = {"OUT_OF_MEMORY": "memory", "TIMEOUT": "timeout", "DEADLINE": "timeout"}.get(state, "system")
        return JobResult(
            sub.record.id,
            1,
            error=f"Slurm job {sub.slurm_id} {what}{detail}",
            timed_out=state == "TIMEOUT",
            failure=failure,
        )

    # -- stopping ------------------------------------------------------------------------
    def kill(self, job_id: str) -> None:
        self._pending.records = [r for r in self._pending.records if r.id != job_id]
        sub = self._jobs.get(job_id)
        if sub is not None and sub.slurm_id:
            subprocess.run(["scancel", sub.slurm_id], capture_output=True, timeout=60, check=False)

    def shutdown(self) -> None:
        self._pending = _Pending()
        live = sorted({s.slurm_id for s in self._jobs.values() if s.slurm_id})
        if live:
            subprocess.run(["scancel", *live], capture_output=True, timeout=120, check=False)


def _max_array_size() -> int:
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 1000
    for line in out.splitlines():
        if line.strip().startswith("MaxArraySize"):
            try:
                return max(1, int(line.split("=", 1)[1].strip()) - 1)  # indices 0..MaxArraySize-1
            except ValueError:
                break
    return 1000


def _stem(name: str) -> str:
    """A scatter's jobs are named step, step_2, step_3 ...: their common stem."""
    head, sep, tail = name.rpartition("_")
    return head if sep and tail.isdigit() else name


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:80] or "job"

"""The local backend: each job runs on this machine.

By default a job runs in a thread of the leader that spawns its command and
waits on it (no polling, no extra interpreter). With ``use_worker_process``
each job instead runs as ``python -m cwl_runner.worker`` from its record in the
job store, exactly as it would on a cluster node.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import jobthreads, worker
from ..guard import Guard
from ..job import SECRETS_ENV, JobRecord, JobResult, result_key
from ..jobstore import JobStore
from .base import Backend


class LocalBackend(Backend):
    name = "local"

    def __init__(self, jobstore: JobStore, use_worker_process: bool = False) -> None:
        self.jobstore = jobstore
        self.use_worker_process = use_worker_process
        self._done: queue.SimpleQueue[JobResult] = queue.SimpleQueue()
        self._procs: dict[str, tuple[subprocess.Popen[bytes], JobRecord]] = {}
        self._lock = threading.Lock()
        # threads that wait on running jobs, reused from job to job; the scheduler
        # bounds how many jobs run at once, so the bound here is only a backstop
        self._pool = ThreadPoolExecutor(max_workers=4096, thread_name_prefix="job")
        #: set by the scheduler: a thread whose job ended may take the next one (scheduler.py)
        self.handoff: Callable[[JobRecord, JobResult], JobRecord | None] | None = None
        # jobs run in its process group, which dies with this process (see guard.py)
        self._guard = Guard()
        #: temporary directories this backend's job threads lend their jobs
        self._lent_dirs = jobthreads.LentDirs()

    def submit(self, record: JobRecord) -> None:
        self._pool.submit(self._run, record)

    def _started(self, record: JobRecord, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs[record.id] = (proc, record)

    def _run(self, record: JobRecord | None) -> None:
        while record is not None:
            try:
                if self.use_worker_process:
                    result = self._run_worker(record)
                else:
                    result = worker.execute(
                        record,
                        on_start=functools.partial(self._started, record),
                        process_group=self._guard.pgid(),
                        lazy=True,
                        lent_dirs=self._lent_dirs,
                    )
            except Exception as err:  # a job's thread must always report back
                result = JobResult(record.id, 1, error=f"{type(err).__name__}: {err}", failure="system")
            with self._lock:
                self._procs.pop(record.id, None)
            ended, record = record, None
            if self.handoff is not None:
                try:
                    record = self.handoff(ended, result)  # the next job, started here and now
                except Exception:  # the leader starts it then
                    record = None
            self._done.put(result)

    def _run_worker(self, record: JobRecord) -> JobResult:
        env = None
        if record.secrets:  # never through the job store
            env = {**os.environ, SECRETS_ENV: json.dumps(record.secrets)}
        group = self._guard.pgid()
        options: dict[str, Any] = {"start_new_session": True} if group is None else {"process_group": group}
        proc: subprocess.Popen[bytes] = subprocess.Popen(
            [sys.executable, "-m", "cwl_runner.worker", self.jobstore.locator, record.id], env=env, **options
        )
        self._started(record, proc)
        code = proc.wait()
        try:
            return JobResult.from_json(self.jobstore.get(result_key(record.id)))
        except KeyError:
            what = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with {code}"
            return JobResult(
                record.id, code or 1, error=f"its worker process {what} and left no result", failure="system"
            )

    def poll(self, timeout: float | None) -> list[JobResult]:
        results = []
        try:
            results.append(self._done.get(timeout=timeout) if timeout != 0 else self._done.get_nowait())
            while True:
                results.append(self._done.get_nowait())
        except queue.Empty:
            pass
        return results

    def kill(self, job_id: str) -> None:
        with self._lock:
            entry = self._procs.get(job_id)
        if entry is not None:
            proc, record = entry
            threading.Thread(target=worker.terminate, args=(proc, record), daemon=True).start()

    def running(self) -> list[str]:
        with self._lock:
            return list(self._procs)

    def shutdown(self) -> None:
        with self._lock:
            left = list(self._procs.values())
        stoppers = [threading.Thread(target=worker.terminate, args=entry, daemon=True) for entry in left]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:  # containers are stopped before the guard kills their clients
            thread.join(timeout=60)
        self._pool.shutdown(wait=False)
        self._guard.close()
        if not left:
            self._lent_dirs.remove_all()

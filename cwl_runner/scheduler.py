"""Resource-aware scheduling: which ready job starts next, and when.

Jobs arrive in the order their inputs become ready. A job starts as soon as
its cores, RAM and GPUs fit in what is free; otherwise it waits in a FIFO
queue. Every event (submit, completion) costs O(1) amortised: the queue is only
scanned while resources remain free. An ended attempt that
:mod:`~cwl_runner.retry` says to run again goes back into the queue (after its
backoff, from a heap of delayed retries) and its callback waits for the last
attempt. Completion callbacks run on the thread
that calls :meth:`Scheduler.wait` (the leader's main loop), so workflow state
is only ever touched by one thread.

A backend that runs jobs in threads of this process (the local one) may also
*hand off*: the thread whose job just succeeded frees that job's resources and
takes the next queued job that fits, at once (:meth:`Scheduler.handoff`), instead
of idling until the leader's loop has handled the result. The leader still
handles every result, in order, and hears of each handed-off start first. After
any failure, and with retries delayed or faults injected, the leader decides.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .backends.base import Backend
from .errors import ResourceError
from .job import JobRecord, JobResult, record_key
from .jobstore import JobStore
from .retry import FaultInjector, RetryPolicy, classify

_logger = logging.getLogger("runner-cwl")

Callback = Callable[[JobResult], None]
#: how long the leader lets results gather while job threads start the queued jobs
#: themselves (see :meth:`Scheduler.wait`): 10 % off a 2,000-job scatter's wall here
BATCH_SECONDS = 0.005


@dataclass
class Limits:
    cores: float
    ram: int  # MiB
    gpus: int = 0

    def describe(self) -> str:
        return f"{self.cores:g} cores, {self.ram} MiB RAM, {self.gpus} GPUs"


class Scheduler:
    def __init__(
        self,
        backend: Backend,
        limits: Limits,
        jobstore: JobStore | None = None,
        store_records: bool = False,
        retry: RetryPolicy | None = None,
        faults: FaultInjector | None = None,
    ) -> None:
        self.backend = backend
        self.retry = retry or RetryPolicy(max_system_retries=0)
        self.faults = faults
        self.limits = limits
        self.jobstore = jobstore
        self.store_records = store_records
        self.free_cores = limits.cores
        self.free_ram = limits.ram
        self.free_gpus = limits.gpus
        self._queue: collections.deque[tuple[JobRecord, Callback]] = collections.deque()
        self._running: dict[str, tuple[JobRecord, Callback]] = {}
        #: retries waiting for their backoff: (due, sequence, record, callback)
        self._delayed: list[tuple[float, int, JobRecord, Callback]] = []
        self._cancelled = False
        self._sequence = itertools.count()
        self.started = 0
        self.finished = 0
        #: called with each record as it starts (the run's event log)
        self.on_start: Callable[[JobRecord], None] | None = None
        #: the queue and the free resources, which job threads touch when they hand off
        self._lock = threading.Lock()
        #: started by a job's thread (handoff): the leader calls on_start for them
        self._handed: collections.deque[JobRecord] = collections.deque()
        #: ended jobs whose resources their thread already freed (handoff)
        self._released: set[str] = set()
        #: a job's thread saw a failure: from then on only the leader starts jobs
        self._no_handoff = faults is not None or store_records
        if not self._no_handoff and hasattr(backend, "handoff"):
            backend.handoff = self.handoff

    def check_fits(self, record: JobRecord) -> None:
        """Refuse at once a job that could never start, naming the step and the flag."""
        self.check_request(record.name, record.cores, record.ram, record.gpus)

    def check_request(self, name: str, cores: float, ram: int, gpus: int) -> None:
        if cores > self.limits.cores:
            raise ResourceError(
                f"step '{name}' asks for {cores:g} cores but --max-cores is "
                f"{self.limits.cores:g}; raise --max-cores or lower its ResourceRequirement"
            )
        if ram > self.limits.ram:
            raise ResourceError(
                f"step '{name}' asks for {ram} MiB of RAM but --max-memory is "
                f"{self.limits.ram} MiB; raise --max-memory or lower its ResourceRequirement"
            )
        if gpus > self.limits.gpus:
            raise ResourceError(
                f"step '{name}' asks for {gpus} CUDA GPUs but --max-gpus is {self.limits.gpus}"
                + ("" if self.limits.gpus else " (no GPU found on this machine)")
            )

    def submit(self, record: JobRecord, callback: Callback) -> None:
        """Queue ``record``; ``callback(result)`` runs in :meth:`wait` when it ends."""
        self.check_fits(record)
        with self._lock:
            self._queue.append((record, callback))
        self._start_ready()

    def handoff(self, ended: JobRecord, result: JobResult) -> JobRecord | None:
        """From the thread that ran ``ended``: when it succeeded, free its resources and
        return the next queued job that fits, reserved and counted as running, for the
        calling thread to start now; None when the leader must decide."""
        if self._no_handoff or self._cancelled:
            return None
        if classify(ended, result) is not None:
            self._no_handoff = True  # a failure: --on-error, retries and cancels are the leader's
            return None
        with self._lock:
            if ended.id not in self._running or ended.id in self._released or self._cancelled:
                return None
            self._released.add(ended.id)
            self._free(ended)
            queue = self._queue
            for _ in range(len(queue)):
                record, callback = queue[0]
                if self._fits(record):
                    queue.popleft()
                    self._reserve(record, callback)
                    self._handed.append(record)
                    return record
                queue.rotate(-1)
            return None

    def _free(self, record: JobRecord) -> None:
        self.free_cores += record.cores
        self.free_ram += record.ram
        self.free_gpus += record.gpus

    def _reserve(self, record: JobRecord, callback: Callback) -> None:
        self.free_cores -= record.cores
        self.free_ram -= record.ram
        self.free_gpus -= record.gpus
        self._running[record.id] = (record, callback)
        self.started += 1

    def _fits(self, record: JobRecord) -> bool:
        return record.cores <= self.free_cores + 1e-9 and record.ram <= self.free_ram and record.gpus <= self.free_gpus

    def _start_ready(self) -> None:
        queue = self._queue
        while True:
            with self._lock:
                record = None
                skipped = 0
                # scan only while something is free; jobs that do not fit keep their place
                while skipped < len(queue) and self.free_cores > 1e-9:
                    record, callback = queue[0]
                    if self._fits(record):
                        queue.popleft()
                        self._reserve(record, callback)
                        break
                    queue.rotate(-1)
                    skipped += 1
                    record = None
                if skipped:
                    queue.rotate(skipped)  # restore arrival order
            if record is None:
                return
            if self.faults is not None:
                self.faults.plan(record)
            if self.store_records and self.jobstore is not None:
                self.jobstore.put(record_key(record.id), record.to_json())
            self.backend.submit(record)
            if self.on_start is not None:
                self.on_start(record)

    def busy(self) -> bool:
        return bool(self._running or self._queue or self._delayed)

    def running(self) -> list[JobRecord]:
        with self._lock:  # job threads that hand off add to it
            return [record for record, _ in self._running.values()]

    def wait(self, timeout: float | None = None) -> int:
        """Handle ended jobs (waiting up to ``timeout``); return how many ended."""
        if self._delayed:
            until_due = max(0.0, self._delayed[0][0] - time.monotonic())
            timeout = until_due if timeout is None else min(timeout, until_due)
        if timeout and self._queue and not self._no_handoff and getattr(self.backend, "handoff", None) is not None:
            # the job threads start the queued jobs themselves: the leader can let a few
            # results gather and handle them together, instead of waking (and taking the
            # GIL from the job threads) once per job
            time.sleep(min(BATCH_SECONDS, timeout))
        results = self.backend.poll(timeout)
        while self._handed:  # started by job threads: before any of them is heard to end
            handed = self._handed.popleft()
            if self.on_start is not None:
                self.on_start(handed)
        retried = False
        ended: list[tuple[Callback, JobResult]] = []
        for result in results:
            with self._lock:
                entry = self._running.pop(result.id, None)
                if entry is None:
                    continue
                record, callback = entry
                if result.id in self._released:
                    self._released.discard(result.id)
                else:
                    self._free(record)
            if self.faults is not None:
                self.faults.observe(result)
            decision = self.retry.decide(record, result)
            if decision.retry and not self._cancelled:
                retry = self.retry.next_attempt(record, decision)
                logging.getLogger("cwltool").warning(
                    "[job %s] %s failure (attempt %d): retrying (%s)",
                    record.name,
                    decision.kind,
                    record.attempt,
                    decision.reason,
                )
                heapq.heappush(
                    self._delayed, (time.monotonic() + decision.delay, next(self._sequence), retry, callback)
                )
                retried = True
                continue
            result.failure = decision.kind
            result.attempt = record.attempt
            self.finished += 1
            ended.append((callback, result))
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, record, callback = heapq.heappop(self._delayed)
            with self._lock:
                self._queue.append((record, callback))
            retried = True
        if ended and all(r.exit_code == 0 and not r.error for _, r in ended):
            # the freed slots take queued jobs before the leader handles the ended ones
            # (collecting outputs, the workflow's next steps): no core idles meanwhile.
            # (After a failure the callbacks come first: --on-error stop must not start more.)
            self._start_ready()
        for callback, result in ended:
            callback(result)
        if results or retried:
            self._start_ready()
        return len(results)

    def cancel_all(self) -> None:
        """Drop queued jobs and stop running ones (their results still arrive)."""
        with self._lock:
            self._cancelled = True
            self._queue.clear()
        self._delayed.clear()
        for job_id in list(self._running):
            self.backend.kill(job_id)

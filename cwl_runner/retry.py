"""Failure classes and the retry decision, in one place.

Every ended job attempt passes through :meth:`RetryPolicy.decide` (called by the
scheduler, O(1) per event). It classifies the attempt and says whether to run it
again, after how long and with how much memory:

- ``task``: the command failed (an exit code that is not a success code, a
  crash such as SIGSEGV, a command that does not exist). Not retried unless
  ``--retry-count N``; ``permanentFailCodes`` never; ``temporaryFailCodes`` up
  to ``max(N, 1)`` times.
- ``system``: the job could not run through no fault of its own: the worker
  process died, the job was killed by a signal we did not send (SIGKILL,
  SIGTERM, SIGHUP, SIGINT), the process could not be started for lack of
  resources, a Slurm node failed. Retried with exponential backoff up to
  ``--max-system-retries`` (default 2).
- ``memory``: killed for exceeding its memory (Slurm OUT_OF_MEMORY, or the
  memory cgroup of ``--enforce-memory``). Retried once with twice the memory,
  up to the run's cap; a memory failure again is final.
- ``timeout``: exceeded its ToolTimeLimit; retried only with ``--retry-count``.

:class:`FaultInjector` (``--inject-faults RATE``) picks which jobs' first
attempts are SIGKILLed, and when: they end as system failures and are retried.
"""

from __future__ import annotations

import dataclasses
import random
import signal
from dataclasses import dataclass, field

from .job import JobRecord, JobResult

TASK = "task"
SYSTEM = "system"
MEMORY = "memory"
TIMEOUT = "timeout"
KINDS = (TASK, SYSTEM, MEMORY, TIMEOUT)

#: signals that come from outside the job (an operator, the OOM killer, a lost
#: session); a job that dies of one of them did nothing wrong
EXTERNAL_SIGNALS = {signal.SIGKILL, signal.SIGTERM, signal.SIGHUP, signal.SIGINT}


def exit_status(record: JobRecord, code: int) -> str:
    """cwltool's reading of an exit code: success, temporaryFail or permanentFail."""
    if code in record.success_codes:
        return "success"
    if code in record.temporary_fail_codes:
        return "temporaryFail"
    if code in record.permanent_fail_codes:
        return "permanentFail"
    return "success" if code == 0 else "permanentFail"


def classify(record: JobRecord, result: JobResult) -> str | None:
    """The failure class of an ended attempt; None when it succeeded."""
    if result.failure in KINDS:
        return result.failure
    if result.injected:
        return SYSTEM
    if result.timed_out:
        return TIMEOUT
    if result.error:
        return SYSTEM
    if result.exit_code < 0 and -result.exit_code in EXTERNAL_SIGNALS:
        return SYSTEM
    if exit_status(record, result.exit_code) == "success":
        return None
    return TASK


@dataclass
class Decision:
    kind: str | None  # None: the attempt succeeded
    retry: bool = False
    delay: float = 0.0
    ram: int = 0  # the next attempt's RAM (MiB) when retried
    reason: str = ""


@dataclass
class Tally:
    """What retries did in a run (for run.json and the final report)."""

    retried: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    faults_injected: int = 0
    succeeded_after_retry: int = 0


@dataclass
class RetryPolicy:
    retry_count: int = 0  # task failures and timeouts (--retry-count)
    max_system_retries: int = 2  # --max-system-retries
    memory_retries: int = 1
    backoff: float = 0.5  # s before the first system retry; doubles each time
    max_backoff: float = 30.0
    max_ram: int = 2**62  # MiB: a memory retry never asks for more
    tally: Tally = field(default_factory=Tally)

    def decide(self, record: JobRecord, result: JobResult) -> Decision:
        kind = classify(record, result)
        if result.injected:
            self.tally.faults_injected += 1
        if kind is None:
            if record.attempt > 1:
                self.tally.succeeded_after_retry += 1
            return Decision(None)
        done = record.attempt - 1  # retries so far, of any class
        if kind == TASK:
            temporary = exit_status(record, result.exit_code) == "temporaryFail" and not result.error
            if result.exit_code in record.permanent_fail_codes and not temporary:
                return Decision(kind, reason="permanentFailCodes: never retried")
            limit = max(self.retry_count, 1) if temporary else self.retry_count
            if done < limit:
                return self._retry(
                    kind, record, 0.0, record.ram, "temporaryFailCodes" if temporary else "--retry-count"
                )
            return Decision(kind)
        if kind == TIMEOUT:
            if done < self.retry_count:
                return self._retry(kind, record, 0.0, record.ram, "--retry-count")
            return Decision(kind)
        if kind == MEMORY:
            more = min(record.ram * 2, self.max_ram)
            if record.memory_retries < self.memory_retries and more > record.ram:
                return self._retry(kind, record, 0.0, more, f"{record.ram} -> {more} MiB")
            return Decision(kind)
        if done < self.max_system_retries:  # SYSTEM
            delay = min(self.backoff * 2**done, self.max_backoff)
            return self._retry(kind, record, delay, record.ram, f"in {delay:g} s")
        return Decision(kind)

    def _retry(self, kind: str, record: JobRecord, delay: float, ram: int, reason: str) -> Decision:
        self.tally.retried[kind] += 1
        return Decision(kind, retry=True, delay=delay, ram=ram, reason=reason)

    @staticmethod
    def next_attempt(record: JobRecord, decision: Decision) -> JobRecord:
        """The record of the next attempt: a new id (results are kept per attempt)."""
        base = record.id.split("r", 1)[0]
        attempt = record.attempt + 1
        return dataclasses.replace(
            record,
            id=f"{base}r{attempt}",
            attempt=attempt,
            ram=decision.ram or record.ram,
            memory_retries=record.memory_retries + (1 if decision.kind == MEMORY else 0),
            fault_after=None,
        )


class FaultInjector:
    """``--inject-faults RATE``: SIGKILL that fraction of jobs at a random moment.

    Only first attempts are picked, so every job still completes through its
    retries. The moment is uniform in [0, the mean run time of the jobs that ended
    so far] (0.2 s before any ended), so most kills land while the job runs; a job
    that ends first escapes (only kills that landed are counted).
    Seeded: the same workflow and seed pick the same jobs.
    """

    def __init__(self, rate: float, seed: int | None = None) -> None:
        self.rate = rate
        self._rng = random.Random(seed)
        self._total = 0.0
        self._count = 0

    def plan(self, record: JobRecord) -> None:
        if self.rate <= 0 or record.attempt != 1:
            return
        if self._rng.random() < self.rate:
            mean = self._total / self._count if self._count else 0.2
            record.fault_after = self._rng.uniform(0.0, mean)

    def observe(self, result: JobResult) -> None:
        if result.ended > result.started > 0 and not result.injected:
            self._total += result.ended - result.started
            self._count += 1

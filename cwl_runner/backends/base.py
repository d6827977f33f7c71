"""The backend interface: submit / poll / kill.

A backend runs job records somewhere (threads here, Slurm nodes later) and
reports results. The scheduler decides *when* a job runs; the backend only
decides *where* and *how*.
"""

from __future__ import annotations

import abc

from ..job import JobRecord, JobResult


class Backend(abc.ABC):
    name: str = "base"

    @abc.abstractmethod
    def submit(self, record: JobRecord) -> None:
        """Start ``record`` now (the scheduler has reserved its resources)."""

    @abc.abstractmethod
    def poll(self, timeout: float | None) -> list[JobResult]:
        """Results of jobs that ended; wait up to ``timeout`` s (None: until one ends)."""

    @abc.abstractmethod
    def kill(self, job_id: str) -> None:
        """Stop a running job; its result still arrives through ``poll``."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Release what the backend holds (threads, connections)."""

"""A benchmark-only backend: every job ends at once, successfully, and nothing runs.

It measures the leader alone — cwltool's job preparation and output collection,
the scheduler, the done journal — at scales no machine could run for real
(``benchmarks/noop.py``: a 100,000-way scatter, a random DAG). Tools run under it
must not need files their command would have made (e.g. string outputs computed
by ``outputEval``). It is accepted only when ``RUNNER_CWL_BENCHMARK=1`` is set,
so it can never be chosen by mistake for real work.
"""

from __future__ import annotations

import os
import time
from collections import deque

from ..errors import ConfigurationError
from ..job import JobRecord, JobResult
from .base import Backend

ENABLE = "RUNNER_CWL_BENCHMARK"


def enabled() -> bool:
    return os.environ.get(ENABLE) == "1"


class NoopBackend(Backend):
    name = "noop"

    def __init__(self) -> None:
        if not enabled():
            raise ConfigurationError(f"--batch-system noop is a benchmark mode: set {ENABLE}=1 to use it")
        self._done: deque[JobResult] = deque()

    def submit(self, record: JobRecord) -> None:
        now = time.time()
        # a job whose outputs name no file: a worker would only have looked for a
        # cwl.output.json, and nothing ran to write one
        collected: dict[str, list[object]] | None = {} if record.collect == [] else None
        result = JobResult(record.id, 0, now, now, collected=collected)
        # a directory left for the worker to make was never made
        result.tmpdir_removed = bool(record.tmpdir) and record.tmpdir in record.make_dirs
        self._done.append(result)

    def poll(self, timeout: float | None) -> list[JobResult]:
        results = list(self._done)
        self._done.clear()
        return results

    def kill(self, job_id: str) -> None:
        pass

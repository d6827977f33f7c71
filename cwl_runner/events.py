"""The run's event log: one entry per job, kept by the leader, saved in the job store.

Every tool job gets an entry when it is submitted (id, step, scatter index,
command line, log path), then its start and end times, exit code, status, CPU
time and peak memory. Per-step counters (queued, running, done, failed) are
kept alongside for the live display. Each event costs O(1).

The whole log is one JSON object under ``report/jobs.json``, written with the
job store's ``put()`` (an S3 store has no append) at most once every few
seconds while jobs end, and at the end of the run. ``report.py`` renders it.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from .job import JobRecord, JobResult
from .jobstore import JobStore

EVENTS_KEY = "report/jobs.json"
FORMAT = 1
#: not more often than this many seconds, and never more than ~5 % of the leader's time
MIN_INTERVAL = 5.0


@dataclass
class StepCounts:
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    #: scatter jobs seen so far, and the scatter's length when cwltool told us
    total: int = 0
    first_submitted: float = 0.0

    @property
    def ended(self) -> int:
        return self.done + self.failed


@dataclass
class RunEvents:
    workflow: str = ""
    started: float = field(default_factory=time.time)
    ended: float = 0.0
    status: str = "running"
    attempt: int = 1
    host: str = ""
    jobstore: str = ""
    limits: dict[str, Any] = field(default_factory=dict)
    #: jobs of earlier attempts (--restart), kept as they were
    previous: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: dict[str, StepCounts] = field(default_factory=dict)
    #: failures that never became a job (e.g. a job that could not be prepared)
    errors: list[dict[str, Any]] = field(default_factory=list)
    reused: int = 0
    _dirty: bool = False
    _last_write: float = 0.0
    _interval: float = MIN_INTERVAL

    # -- events (the leader's thread only) ------------------------------------
    def submitted(self, record: JobRecord, step: str, scatter_index: int | None) -> None:
        now = time.time()
        self.jobs[record.id] = {
            "id": record.id,
            "name": record.name,
            "attempt": self.attempt,
            "step": step,
            "scatter_index": scatter_index,
            "submitted": now,
            "started": None,
            "ended": None,
            "exit_code": None,
            "status": "queued",
            "cpu": None,
            "peak_rss": None,
            "cores": record.cores,
            "ram": record.ram,
            "log": record.log,
            "stderr": record.stderr,
            "command": shlex.join(record.argv),
            "error": None,
        }
        counts = self.steps.get(step)
        if counts is None:
            counts = self.steps[step] = StepCounts(first_submitted=now)
        counts.queued += 1
        counts.total += 1
        self._dirty = True

    def started_job(self, record: JobRecord) -> None:
        entry = self.jobs.get(record.id)
        if entry is None or entry["status"] != "queued":
            return
        entry["status"] = "running"
        entry["started"] = time.time()
        counts = self.steps[entry["step"]]
        counts.queued -= 1
        counts.running += 1
        self._dirty = True

    def ended_job(self, record: JobRecord, result: JobResult | None, status: str, error: str = "") -> None:
        entry = self.jobs.get(record.id)
        if entry is None:
            return
        counts = self.steps[entry["step"]]
        if entry["status"] == "running":
            counts.running -= 1
        elif entry["status"] == "queued":
            counts.queued -= 1
        else:  # already ended
            return
        entry["status"] = status
        if result is not None:
            if result.started:
                entry["started"] = result.started
            entry["ended"] = result.ended or time.time()
            entry["exit_code"] = result.exit_code
            entry["cpu"] = round(result.cpu_user + result.cpu_system, 3)
            entry["peak_rss"] = result.peak_rss
            entry["timed_out"] = result.timed_out
            entry["tries"] = getattr(result, "attempt", 1)  # with --retry-count: the attempt that ended it
            entry["failure"] = getattr(result, "failure", None)
            entry["error"] = result.error or error or None
            if result.no_log:
                entry["log"] = None
        else:
            entry["ended"] = time.time()
            entry["error"] = error or None
        if status == "success":
            counts.done += 1
        else:
            counts.failed += 1
        self._dirty = True

    def not_started(self, name: str, step: str, message: str) -> None:
        """A job that failed before it became a record (preparation, staging)."""
        self.errors.append({"name": name, "step": step, "status": "permanentFail", "error": message})
        self.steps.setdefault(step, StepCounts(first_submitted=time.time())).failed += 1
        self._dirty = True

    def close(self, status: str) -> None:
        """The run is over: jobs still queued or running were cancelled."""
        for entry in self.jobs.values():
            if entry["status"] in ("queued", "running"):
                counts = self.steps[entry["step"]]
                if entry["status"] == "queued":
                    counts.queued -= 1
                else:
                    counts.running -= 1
                    entry["ended"] = time.time()
                counts.failed += 1
                entry["status"] = "cancelled"
        self.status = status
        self.ended = time.time()
        self._dirty = True

    # -- persistence ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "workflow": self.workflow,
            "status": self.status,
            "started": self.started,
            "ended": self.ended or None,
            "attempt": self.attempt,
            "host": self.host,
            "jobstore": self.jobstore,
            "limits": self.limits,
            "reused": self.reused,
            "errors": self.errors,
            "jobs": [*self.previous, *self.jobs.values()],
        }

    def save(self, store: JobStore, force: bool = False) -> bool:
        """Write the log into the store; unless ``force``, only when due. Whether it did."""
        now = time.monotonic()
        if not force and (not self._dirty or now - self._last_write < self._interval):
            return False
        doc = self.to_dict()
        streaming = getattr(store, "put_stream", None)
        if streaming is not None:  # the log of a big run is never one string in memory
            streaming(EVENTS_KEY, lambda handle: dump_in_chunks(doc, handle))
        else:
            store.put(EVENTS_KEY, json.dumps(doc, separators=(",", ":")).encode())
        spent = time.monotonic() - now
        # a big log is written less often: its writes stay under ~5 % of the leader's time
        self._interval = max(MIN_INTERVAL, spent * 20)
        self._last_write = time.monotonic()
        self._dirty = False
        return True

    def load_previous(self, store: JobStore) -> None:
        """Keep the jobs an earlier attempt recorded (for --restart)."""
        doc = load(store)
        if doc is None:
            return
        for entry in doc.get("jobs", []):
            entry.setdefault("attempt", doc.get("attempt", 1))
            if entry.get("status") in ("queued", "running"):
                entry["status"] = "interrupted"
            self.previous.append(entry)


def dump_in_chunks(doc: dict[str, Any], handle: Any, chunk: int = 1000) -> None:
    """Write ``doc`` as ``json.dumps(doc, separators=(",", ":"))`` would, its long
    lists ``chunk`` items at a time: a 1,000,000-job log is ~500 MB of JSON, and
    ``json.dumps`` holds it (and its pieces) in memory at once."""
    handle.write(b"{")
    for index, (key, value) in enumerate(doc.items()):
        handle.write((b"," if index else b"") + json.dumps(key).encode() + b":")
        if isinstance(value, list) and len(value) > chunk:
            handle.write(b"[")
            for start in range(0, len(value), chunk):
                part = json.dumps(value[start : start + chunk], separators=(",", ":"))[1:-1]
                handle.write((b"," if start else b"") + part.encode())
            handle.write(b"]")
        else:
            handle.write(json.dumps(value, separators=(",", ":")).encode())
    handle.write(b"}")


def load(store: JobStore) -> dict[str, Any] | None:
    """The event log saved in ``store``, or None."""
    try:
        return json.loads(store.get(EVENTS_KEY))  # type: ignore[no-any-return]
    except KeyError:
        return None


_SUFFIX = re.compile(r"_\d+$")


def step_of(job: Any) -> str:
    """The step a tool job belongs to (the tool's name for a lone tool)."""
    step = getattr(job, "step_name", None)
    if step:
        return str(step)
    return _SUFFIX.sub("", str(getattr(job, "name", "job")))


def scatter_index(job: Any) -> int | None:
    """The job's index in its step's scatter, when it is one.

    cwltool gives each scatter element an output callback that is a partial of
    ``receive_scatter_output`` bound to the element's index, wrapped in the
    step's own partials: the nearest one found is the job's index.
    """
    known = getattr(job, "_runner_scatter_index", _UNKNOWN)
    if known is not _UNKNOWN:
        return known  # type: ignore[return-value]
    index: int | None = None
    todo: list[Any] = [getattr(job, "output_callback", None)]
    seen = 0
    while todo and seen < 32:
        callback = todo.pop(0)
        seen += 1
        if isinstance(callback, functools.partial):
            if getattr(callback.func, "__name__", "") == "receive_scatter_output" and callback.args:
                found = callback.args[0]
                index = found if isinstance(found, int) else None
                break
            todo.append(callback.func)
            todo.extend(a for a in callback.args if callable(a))
    try:
        job._runner_scatter_index = index  # asked at submission and for the log's name
    except AttributeError:
        pass
    return index


_UNKNOWN = object()

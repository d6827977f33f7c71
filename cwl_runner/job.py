"""The job record: everything a worker needs to run one tool invocation.

It is small and JSON-serialisable on purpose: the leader builds it once per job
(no copies of documents), the local backend runs it in-process, and a worker on
another node runs the same record from the job store
(``python -m cwl_runner.worker JOBSTORE JOB_ID``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class JobRecord:
    """One command to run, where, with what, and with which resources."""

    id: str
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    stdin: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    timelimit: int | None = None
    cores: float = 1.0
    ram: int = 256  # MiB
    gpus: int = 0
    #: the container engine's cidfile, so a kill can stop the container too
    cidfile: str | None = None
    container_engine: str | None = None
    #: where the tool's stdout/stderr go when the tool does not capture them
    log: str | None = None
    outdir: str = ""
    tmpdir: str = ""
    #: where the worker uploads the job's output directory when it ends (an S3
    #: job store's ``files/JOB_ID/``); None when outputs stay where they are
    upload: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> JobRecord:
        return cls(**json.loads(data))


@dataclass
class JobResult:
    """What became of a record: its exit code, or why it never ran."""

    id: str
    exit_code: int
    started: float = 0.0
    ended: float = 0.0
    #: set when the command could not be started at all (not found, bad cwd, ...)
    error: str | None = None
    #: set when the job was stopped for exceeding its time limit
    timed_out: bool = False
    #: CPU seconds (user, system) of the job's process and the descendants it waited for
    #: (os.wait4); a container's own processes are not in it (see docs/reporting.md)
    cpu_user: float = 0.0
    cpu_system: float = 0.0
    #: peak resident memory in bytes: the larger of the biggest single process (rusage)
    #: and the largest sampled sum over the process tree
    peak_rss: int = 0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> JobResult:
        return cls(**_known(cls, json.loads(data)))


def _known(cls: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The fields ``cls`` has: a result written by a newer worker still loads."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def record_key(job_id: str) -> str:
    return f"jobs/{job_id}.json"


def result_key(job_id: str) -> str:
    return f"results/{job_id}.json"

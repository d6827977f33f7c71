"""The job record: everything a worker needs to run one tool invocation.

It is small and JSON-serialisable on purpose: the leader builds it once per job
(no copies of documents), the local backend runs it in-process, and a worker on
another node runs the same record from the job store
(``python -m cwl_runner.worker JOBSTORE JOB_ID``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
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
    #: write ``log`` only for a job that wrote something there or did not exit 0
    #: (logs in the job store, no --log-dir: most jobs then create no file)
    lazy_log: bool = False
    outdir: str = ""
    tmpdir: str = ""
    #: the tool's exit codes (CWL successCodes, temporaryFailCodes, permanentFailCodes)
    success_codes: list[int] = field(default_factory=list)
    temporary_fail_codes: list[int] = field(default_factory=list)
    permanent_fail_codes: list[int] = field(default_factory=list)
    #: 1 for the first run of a job, then one more for each retry (retry.py)
    attempt: int = 1
    #: how many of the retries so far were for memory (each doubled ``ram``)
    memory_retries: int = 0
    #: run in a memory cgroup limited to ``ram`` (--enforce-memory)
    enforce_memory: bool = False
    #: --inject-faults: SIGKILL the job this many seconds after it starts
    fault_after: float | None = None
    #: placeholder -> secret value (cwltool's Secrets hint). argv and env hold the
    #: placeholders; the worker substitutes them just before it starts the command.
    #: Never serialised: a worker in another process gets them through its
    #: environment (``SECRETS_ENV``), never through the job store.
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    #: where the worker uploads the job's output directory when it ends (an S3
    #: job store's ``files/JOB_ID/``); None when outputs stay where they are
    upload: str | None = None
    #: directories the worker makes before it starts the command (the fast path only
    #: names a job's output and temporary directories: see fastpath.py)
    make_dirs: list[str] = field(default_factory=list)
    #: output files (paths relative to ``outdir``) the worker looks at when the command
    #: has ended: if each is a regular file and there is no ``cwl.output.json``, the
    #: result's ``collected`` has each one's size and SHA-1 (when ``checksums``)
    collect: list[str] | None = None
    checksums: bool = True
    #: remove ``tmpdir`` once ``collect`` found every file (nothing can point into it)
    drop_tmpdir: bool = False
    #: the job's TMPDIR may be any empty directory (only its environment names it): a
    #: job thread of a long-lived process lends it one it keeps for its jobs, emptied,
    #: and ``tmpdir`` itself is never made (see jobthreads.LentDirs)
    recycle_tmpdir: bool = False
    #: the job may run in an output directory a job thread lends it (only the
    #: environment's HOME and the working directory name ``outdir``): when it exits 0
    #: with every ``collect`` file found, those files are renamed to their
    #: :func:`flat_path` and ``outdir`` is never made (result ``flattened``); any other
    #: end renames the lent directory to ``outdir`` (see jobthreads.LentDirs)
    flatten: bool = False

    def to_json(self) -> bytes:
        data = asdict(self)
        del data["secrets"]
        return json.dumps(data, separators=(",", ":")).encode()

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
    #: what the place that saw the failure knows of its class: "system" (the job
    #: could not run: worker lost, node failure, ...), "memory" (killed for
    #: exceeding its memory), "task" (the command itself is at fault); None: judge
    #: by the exit code (retry.classify)
    failure: str | None = None
    #: the job was killed by --inject-faults
    injected: bool = False
    #: which attempt this was (set by the scheduler on the attempt it reports)
    attempt: int = 1
    #: the record's lazy log was not written (the job exited 0 and wrote nothing there)
    no_log: bool = False
    #: the record's ``collect`` files as the worker found them: name -> [size, sha1];
    #: None when it did not look, or found something else (the leader then looks itself)
    collected: dict[str, list[Any]] | None = None
    #: the worker removed the record's tmpdir (``drop_tmpdir``)
    tmpdir_removed: bool = False
    #: each of ``collected`` is at its :func:`flat_path`, and the record's outdir was
    #: never made (``JobRecord.flatten``)
    flattened: bool = False

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> JobResult:
        return cls(**_known(cls, json.loads(data)))


def _known(cls: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The fields ``cls`` has: a result written by a newer worker still loads."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in values.items() if k in names}


#: the environment variable that carries a worker process's secrets (JSON)
SECRETS_ENV = "RUNNER_CWL_SECRETS"


def record_key(job_id: str) -> str:
    return f"jobs/{job_id}.json"


def result_key(job_id: str) -> str:
    return f"results/{job_id}.json"


def flat_path(outdir: str, name: str) -> str:
    """Where a flattened job's output file ``name`` is: beside the ``outdir`` it was
    named, as ``OUTDIR-NAME``. Job directories are named by ``mkdtemp`` or
    ``WorkDirs.fresh`` (letters, digits and ``_``, never ``-``) and lent directories
    start with a dot, so no other job's directory or file can have that name."""
    return f"{outdir.rstrip(os.sep)}-{name}"

"""A run's state in its job store: who leads it, how far it got, how it ended.

- ``leader.lock``: held (flock) by the one leader of the store while it runs; the
  kernel drops it when that process dies, however it dies, so a dead leader never
  blocks a restart. Its content names the holder for the message a second leader
  gets.
- ``run.json``: what is being run, and the job counts; rewritten (write-then-rename)
  at start, at most once a second while jobs end, and at the end.
- ``done/KEY.json``: the outputs of every job that succeeded, by content key
  (``reuse.py``): what ``--restart`` skips.

cwltool's content-addressed cache (``--cachedir``) is not used for this: it holds a
blocking file lock per job from submission to completion, so a second job with the
same key (a scatter over equal values) would block the leader's only thread inside
job generation while the first job's completion waits for that thread (cwltool's
--parallel executor has the same deadlock).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from .errors import ConfigurationError, JobStoreError
from .jobstore import JobStore, LocalJobStore

RUN_KEY = "run.json"
LOCK_KEY = "leader.lock"


@dataclass
class RunRecord:
    workflow: str = ""
    inputs: str = ""
    status: str = "running"  # running, success, permanentFail, interrupted
    attempt: int = 1  # 1, then one more for each --restart
    pid: int = 0
    host: str = ""
    started: float = 0.0
    updated: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    #: retried attempts by failure class (retry.py), and --inject-faults kills
    retries: dict[str, int] = field(default_factory=dict)
    faults_injected: int = 0
    succeeded_after_retry: int = 0


def read_run(store: JobStore) -> RunRecord | None:
    try:
        return RunRecord(**json.loads(store.get(RUN_KEY)))
    except KeyError:
        return None
    except (ValueError, TypeError) as err:
        raise JobStoreError(f"{store.locator}: {RUN_KEY} is unreadable ({err})") from err


class Leadership:
    """The leader's hold on a job store, for as long as the run lasts."""

    def __init__(self, store: JobStore) -> None:
        if not isinstance(store, LocalJobStore):
            raise ConfigurationError("only local job stores can be locked yet")
        self.store = store
        self._handle: IO[str] | None = None
        self.last_write = 0.0

    def acquire(self) -> None:
        path = self.store.local_path(LOCK_KEY)
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another runner-cwl"
            handle.close()
            raise ConfigurationError(
                f"job store {self.store.locator} is in use by {holder}; "
                f"wait for it, or stop it with: runner-cwl kill {self.store.locator}"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"runner-cwl pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}"
        )
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the flock
            self._handle = None

    def write(self, record: RunRecord, force: bool = True) -> bool:
        """Save ``record``; unless ``force``, not more than once a second. Whether it did."""
        now = time.time()
        if not force and now - self.last_write < 1.0:
            return False
        self.last_write = now
        record.updated = now
        self.store.put(RUN_KEY, json.dumps(asdict(record), indent=1).encode())
        return True


def leader_alive(store: JobStore) -> str | None:
    """Who holds the store's lock now (None when nobody does)."""
    if not isinstance(store, LocalJobStore) or not store.exists(LOCK_KEY):
        return None
    with open(store.local_path(LOCK_KEY), "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return handle.read().strip() or "a runner-cwl leader"
        return None


def ensure_restartable(store: JobStore) -> RunRecord:
    """The run in ``store`` (unfinished, or finished and kept) that no leader is running."""
    leader = leader_alive(store)
    if leader:
        raise ConfigurationError(f"job store {store.locator} is in use by {leader}; nothing to restart")
    previous = read_run(store)
    if previous is None:
        raise ConfigurationError(f"--restart: job store {store.locator} holds no run to restart")
    return previous


def ensure_unused(store: JobStore) -> None:
    """Refuse a store that a leader is using, or that holds a run already."""
    leader = leader_alive(store)
    if leader:
        raise ConfigurationError(
            f"job store {store.locator} is in use by {leader}; stop it with: runner-cwl kill {store.locator}"
        )
    previous = read_run(store)
    if previous is not None:
        raise ConfigurationError(
            f"job store {store.locator} already holds a run ({previous.status}); choose another --jobstore, "
            f"or remove it with: runner-cwl clean {store.locator}"
        )

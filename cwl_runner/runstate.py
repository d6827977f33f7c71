"""A run's state in its job store: who leads it, how far it got, how it ended.

- ``leader.lock``: held (flock) by the one leader of the store while it runs; the
  kernel drops it when that process dies, however it dies, so a dead leader never
  blocks a restart. Its content names the holder for the message a second leader
  gets, and the next leader says whom it took over from.
- ``leader.lease`` (for stores whose leaders may be on different hosts, e.g. S3):
  :class:`StoreLease`, an object naming its owner and an expiry that the leader
  pushes forward while it runs; a lease past its expiry belongs to a dead leader
  and is taken over. ``Leadership(store, lease=StoreLease(store))`` uses it; by
  default every store is flocked (a remote one in its local scratch, one host).
- ``run.json``: what is being run, and the job counts; rewritten (write-then-rename)
  at start, at most once a second while jobs end, and at the end.
- ``done/journal.jsonl`` (``done/KEY.json`` on S3): the outputs of every job that
  succeeded, by content key (``reuse.py``): what ``--restart`` skips.

cwltool's content-addressed cache (``--cachedir``) is not used for this: it holds a
blocking file lock per job from submission to completion, so a second job with the
same key (a scatter over equal values) would block the leader's only thread inside
job generation while the first job's completion waits for that thread (cwltool's
--parallel executor has the same deadlock).
"""

from __future__ import annotations

import abc
import fcntl
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from .errors import ConfigurationError, JobStoreError
from .jobstore import JobStore

RUN_KEY = "run.json"
LOCK_KEY = "leader.lock"
LEASE_KEY = "leader.lease"
_logger = logging.getLogger("cwltool")


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


def _holder_text() -> str:
    return f"runner-cwl pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}"


def _in_use(store: JobStore, holder: str) -> ConfigurationError:
    return ConfigurationError(
        f"job store {store.locator} is in use by {holder}; "
        f"wait for it, or stop it with: runner-cwl kill {store.locator}"
    )


class Lease(abc.ABC):
    """Leadership of a store that has no flock: held while renewed, lost when it expires.

    The leader calls :meth:`acquire` once, :meth:`renew` often (it acts at most
    every ``ttl / 3`` seconds) and :meth:`release` at the end. A leader that dies
    stops renewing; once the expiry has passed, the next leader takes over.
    """

    ttl: float

    @abc.abstractmethod
    def acquire(self) -> str | None:
        """Become the holder, or raise ConfigurationError naming the live holder.
        Returns who held it before (an expired lease), if anyone."""

    @abc.abstractmethod
    def renew(self) -> None:
        """Push the expiry forward; raise JobStoreError if another leader took over."""

    @abc.abstractmethod
    def release(self) -> None:
        """Give the lease up (only if still ours)."""

    @abc.abstractmethod
    def holder(self) -> str | None:
        """Who holds an unexpired lease now (None when nobody does)."""


class StoreLease(Lease):
    """A :class:`Lease` kept in the job store itself, through the JobStore interface only.

    ``leader.lease`` holds ``{"owner", "holder", "expires"}``. To take the lease a
    leader writes its own, waits ``settle`` seconds and reads it back: of two
    leaders that raced, only the last writer finds its own record and goes on. A
    store with a compare-and-swap put (S3 ``If-None-Match``/``If-Match``) makes
    this exact by offering ``replace_if(key, data, expected) -> bool``, which
    :meth:`acquire` then uses instead of the settle-and-check.
    """

    def __init__(self, store: JobStore, ttl: float = 60.0, settle: float = 1.0) -> None:
        self.store = store
        self.ttl = ttl
        self.settle = settle
        self.owner = uuid.uuid4().hex
        self._renewed = 0.0

    def _read(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.store.get(LEASE_KEY))
            return data
        except (KeyError, ValueError):
            return None

    def _record(self) -> bytes:
        return json.dumps({"owner": self.owner, "holder": _holder_text(), "expires": time.time() + self.ttl}).encode()

    def holder(self) -> str | None:
        current = self._read()
        if current is None or current.get("expires", 0) <= time.time():
            return None
        return str(current.get("holder") or "a runner-cwl leader")

    def acquire(self) -> str | None:
        current = self._read()
        if current is not None and current.get("expires", 0) > time.time() and current.get("owner") != self.owner:
            raise _in_use(self.store, str(current.get("holder")))
        data = self._record()
        swap = getattr(self.store, "replace_if", None)
        if swap is not None:
            expected = json.dumps(current).encode() if current is not None else None
            if not swap(LEASE_KEY, data, expected):
                raise _in_use(self.store, self.holder() or "another runner-cwl")
        else:
            self.store.put(LEASE_KEY, data)
            time.sleep(self.settle)
            mine = self._read()
            if mine is None or mine.get("owner") != self.owner:
                raise _in_use(self.store, (mine or {}).get("holder") or "another runner-cwl")
        self._renewed = time.monotonic()
        return str(current.get("holder")) if current is not None else None

    def renew(self) -> None:
        if time.monotonic() - self._renewed < self.ttl / 3:
            return
        current = self._read()
        if current is None or current.get("owner") != self.owner:
            raise JobStoreError(
                f"job store {self.store.locator}: another leader took over "
                f"({(current or {}).get('holder', 'lease gone')}); stopping"
            )
        self.store.put(LEASE_KEY, self._record())
        self._renewed = time.monotonic()

    def release(self) -> None:
        current = self._read()
        if current is not None and current.get("owner") == self.owner:
            self.store.delete(LEASE_KEY)


class Leadership:
    """The leader's hold on a job store, for as long as the run lasts: a flock on the
    store's ``leader.lock`` (for a remote store, in its local scratch: one host), or,
    when given one, a :class:`Lease` (leaders on different hosts)."""

    def __init__(self, store: JobStore, lease: Lease | None = None) -> None:
        self.store = store
        self.lease = lease
        self._handle: IO[str] | None = None
        self.last_write = 0.0
        self._warned = False

    def acquire(self) -> None:
        if self.lease is not None:
            previous: str | None = self.lease.acquire()
        else:
            previous = self._flock()
        if previous:
            _logger.info("job store %s: its previous leader (%s) is gone; taking over", self.store.locator, previous)

    def _flock(self) -> str | None:
        path = self.store.local_path(LOCK_KEY)
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another runner-cwl"
            handle.close()
            raise _in_use(self.store, holder) from None
        handle.seek(0)
        previous = handle.read().strip()  # a leader that died holding it
        handle.seek(0)
        handle.truncate()
        handle.write(_holder_text())
        handle.flush()
        self._handle = handle
        return previous or None

    def keep(self) -> None:
        """Called often by the leader: keeps a lease from expiring."""
        if self.lease is not None:
            self.lease.renew()

    def release(self) -> None:
        if self.lease is not None:
            self.lease.release()
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()  # a clean end leaves no holder to take over from
            self._handle.close()  # closing drops the flock
            self._handle = None

    def write(self, record: RunRecord, force: bool = True) -> bool:
        """Save ``record``; unless ``force``, not more than once a second. Whether it did."""
        now = time.time()
        if not force and now - self.last_write < 1.0:
            return False
        self.last_write = now
        record.updated = now
        try:
            self.store.put(RUN_KEY, json.dumps(asdict(record), indent=1).encode())
        except JobStoreError as err:
            if force:
                raise
            if not self._warned:  # a progress report: the run goes on without it
                _logger.warning("%s (run.json keeps its last state)", err)
                self._warned = True
            return False
        return True

    def finish(self, record: RunRecord, locator: str) -> str:
        """Write the run's end to run.json and let the store go; the run's status (a
        failure if run.json could not be written)."""
        try:
            self.write(record)
        except JobStoreError as err:
            _logger.error(
                "%s; run.json keeps the run's last recorded state. Once there is room: "
                "runner-cwl --restart --jobstore %s WORKFLOW INPUTS",
                err,
                locator,
            )
            if record.status == "success":
                record.status = "permanentFail"
        finally:
            self.release()
        return record.status


def leader_alive(store: JobStore) -> str | None:
    """Who holds the store's lock now (None when nobody does)."""
    if store.remote_outputs:  # S3: leaders on any host, through the lease in the store
        return StoreLease(store).holder()
    if not os.path.exists(store.local_path(LOCK_KEY)):
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

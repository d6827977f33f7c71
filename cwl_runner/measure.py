"""What a job used: CPU time and peak memory of its process tree.

- ``wait(proc)`` reaps the job's process with ``os.wait4``, which returns its
  resource usage: user and system CPU time of the process and of every
  descendant it waited for, and ``ru_maxrss``, the peak resident set of the
  largest single process among them.
- ``SAMPLER`` adds the peak of the *sum* over the process tree (a pipeline's
  processes run side by side): one daemon thread, one scan of the process
  table per second for all running jobs together, only while jobs run. Jobs
  shorter than a second are not sampled; their rusage peak stands.

A container's processes are children of the container engine's daemon, not of
the job's ``docker run``: for those jobs the numbers are the client's only.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import Any

INTERVAL = 1.0


def wait(proc: subprocess.Popen[bytes]) -> tuple[int, Any]:
    """Reap ``proc``; its exit code (negative: the signal) and its rusage (None if unknown)."""
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # reaped elsewhere: no usage to be had
        return proc.wait(), None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage


def wait_exited(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether ``proc`` exits within ``timeout`` seconds, without reaping it."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        if proc.returncode is not None:
            return True
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.1)


class TreeSampler:
    """The peak summed RSS of each watched process tree, sampled every ``INTERVAL``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._peaks: dict[int, int] = {}
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def watch(self, pid: int) -> int:
        with self._lock:
            self._peaks[pid] = 0
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
                self._thread.start()
            self._wake.notify()
        return pid

    def forget(self, pid: int) -> int:
        with self._lock:
            return self._peaks.pop(pid, 0)

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._peaks:
                    self._wake.wait()
            time.sleep(INTERVAL)
            try:
                self._sample()
            except Exception:  # pragma: no cover - never let sampling hurt a run
                continue

    def _sample(self) -> None:
        import psutil

        with self._lock:
            roots = set(self._peaks)
        if not roots:
            return
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for proc in psutil.process_iter(["ppid", "memory_info"]):
            info = proc.info
            if info.get("memory_info") is None:
                continue
            rss[proc.pid] = info["memory_info"].rss
            children.setdefault(info.get("ppid") or 0, []).append(proc.pid)
        for root in roots:
            total, stack = 0, [root]
            while stack:
                pid = stack.pop()
                total += rss.get(pid, 0)
                stack.extend(children.get(pid, ()))
            with self._lock:
                if root in self._peaks and total > self._peaks[root]:
                    self._peaks[root] = total


SAMPLER = TreeSampler()

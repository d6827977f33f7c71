"""What a job used: CPU time and peak memory of its process tree.

- ``wait(proc)`` reaps the job's process with ``os.wait4``, which returns its
  resource usage: user and system CPU time of the process and of every
  descendant it waited for, and ``ru_maxrss``, the peak resident set of the
  largest single process among them.
  A forked child's ``ru_maxrss`` also counts what it inherited from its parent
  before exec, so it is used only above that level (``peak_memory``).
- ``SAMPLER`` reads the kernel's per-process high-water marks (VmHWM, exact
  since each exec) and sums them over the job's process tree (a pipeline's
  processes run side by side): the job's own process six times in its first
  0.7 s, then the whole tree once a second, in one daemon thread and one scan
  of the process table for all running jobs together. A job that ends within
  20 ms and stays below what it inherited has no memory figure (0).

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


def _hwm(pid: int) -> int:
    """A process's peak resident memory since its exec (VmHWM), in bytes; 0 when gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def own_rss() -> int:
    """This process's resident memory now, in bytes (what a child inherits at fork)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def peak_memory(usage: Any, tree_peak: int, inherited: int) -> int:
    """The job's peak memory in bytes from its rusage and the sampled tree peak.

    A forked child's ``ru_maxrss`` starts at the memory it inherited from the
    process that forked it (the leader, or the worker), and keeps that high-water
    mark through exec: below that level it tells nothing about the tool.
    """
    rusage_peak = int(usage.ru_maxrss) * 1024 if usage is not None else 0  # KiB on Linux
    if rusage_peak > inherited * 1.05 + 4 * 2**20:
        return max(rusage_peak, tree_peak)
    return tree_peak


class TreeSampler:
    """The peak memory of each watched process tree: the sum of its processes' VmHWM.

    Each job's own process is read 0.02 to 0.7 s after it started (six times); then
    its whole tree once a second, all jobs in one scan of the process table.
    """

    QUICK = (0.02, 0.05, 0.1, 0.2, 0.4, 0.7)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._peaks: dict[int, int] = {}
        self._due: dict[int, tuple[float, int]] = {}  # pid -> (when, how many samples so far)
        self._thread: threading.Thread | None = None

    def watch(self, pid: int) -> int:
        with self._lock:
            self._peaks[pid] = 0
            self._due[pid] = (time.monotonic() + self.QUICK[0], 0)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)
                self._thread.start()
            self._wake.notify()
        return pid

    def forget(self, pid: int) -> int:
        with self._lock:
            self._due.pop(pid, None)
            return self._peaks.pop(pid, 0)

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._due:
                    self._wake.wait()
                now = time.monotonic()
                first = min(when for when, _ in self._due.values())
                if first > now:
                    self._wake.wait(first - now)
                    continue
                due = [(pid, n) for pid, (when, n) in self._due.items() if when <= now]
                for pid, n in due:
                    delay = self.QUICK[n + 1] - self.QUICK[n] if n + 1 < len(self.QUICK) else INTERVAL
                    self._due[pid] = (now + delay, n + 1)
            try:
                self._sample(
                    [pid for pid, n in due if n < len(self.QUICK)], [pid for pid, n in due if n >= len(self.QUICK)]
                )
            except Exception:  # pragma: no cover - never let sampling hurt a run
                continue

    def _sample(self, quick: list[int], trees: list[int]) -> None:
        found = {pid: _hwm(pid) for pid in quick}
        if trees:
            import psutil

            children: dict[int, list[int]] = {}
            for proc in psutil.process_iter(["ppid"]):
                children.setdefault(proc.info.get("ppid") or 0, []).append(proc.pid)
            for root in trees:
                total, stack = 0, [root]
                while stack:
                    pid = stack.pop()
                    total += _hwm(pid)
                    stack.extend(children.get(pid, ()))
                found[root] = total
        with self._lock:
            for pid, value in found.items():
                if pid in self._peaks and value > self._peaks[pid]:
                    self._peaks[pid] = value


SAMPLER = TreeSampler()

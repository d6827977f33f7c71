"""What a job used: CPU time and peak memory of its process tree.

- ``wait(proc)`` runs in the job's thread. Until the process ends it reads the
  process's peak resident memory (the kernel's VmHWM, exact since its exec) at
  1, 2, 4, ... ms, every 50 ms up to 2 s and then every second, waking at once
  when the process exits (a pidfd): even a job of a few milliseconds gets a
  figure, and no job's end is noticed later than without sampling.
  Then it reaps the process with ``os.wait4``, whose rusage gives the CPU
  time (user and system) of the process and of every descendant it waited
  for, and ``ru_maxrss``. A forked child's ``ru_maxrss``
  starts at what it inherited from its parent (the leader) and keeps that
  through exec, so it is only used above that level (``peak_memory``).
- ``SAMPLER`` adds the peak over the job's process tree (a pipeline's processes
  run side by side): once a second one daemon thread scans the process table
  for all running jobs together and sums the VmHWM of each job's processes.

A container's processes are children of the container engine's daemon, not of
the job's ``docker run``: for those jobs the numbers are the client's only.
"""

from __future__ import annotations

import os
import select
import subprocess
import threading
import time
from typing import Any

INTERVAL = 1.0


def wait(proc: subprocess.Popen[bytes]) -> tuple[int, Any, int]:
    """Reap ``proc``: its exit code (negative: the signal), its rusage (None if
    unknown) and the largest VmHWM read from it while it ran (bytes)."""
    peak = _watch_until_exit(proc.pid)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # reaped elsewhere: no usage to be had
        return proc.wait(), None, peak
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage, peak


def _watch_until_exit(pid: int) -> int:
    """Read ``pid``'s VmHWM at once, at 1, 2, 4 ... ms, every 50 ms up to 2 s, then
    each second, until it exits."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfds (old kernel): the tree sampler only
        return 0
    # no read at once: a job that ends within the first millisecond (most of a
    # scatter of small commands) costs no /proc read; its figure is its rusage
    peak = 0
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        delay, waited = 1, 0
        while not poller.poll(delay):
            waited += delay
            peak = max(peak, _hwm(pid))
            # every 50 ms for the first two seconds (short jobs), then every second
            delay = min(delay * 2, 50) if waited < 2000 else int(INTERVAL * 1000)
    finally:
        os.close(fd)
    return peak


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
    try:  # a raw descriptor: three system calls, not a file object's six
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
        try:
            text = os.read(fd, 1 << 16)
        finally:
            os.close(fd)
        at = text.find(b"\nVmHWM:")
        if at != -1:
            return int(text[at + 7 : text.index(b"\n", at + 1)].split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


_own: list[float] = [0.0, -1.0]  # (bytes, when read)


def own_rss() -> int:
    """This process's resident memory, in bytes (what a child inherits at fork): read
    at most every 0.2 s, since jobs start far more often than it changes."""
    now = time.monotonic()
    if now - _own[1] < 0.2:
        return int(_own[0])
    try:
        with open("/proc/self/statm", "rb") as handle:
            value = int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
    _own[0], _own[1] = value, now
    return value


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
    """The peak memory of each watched process tree: the sum of its processes' VmHWM,
    once a second, all jobs in one scan of the process table."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._peaks: dict[int, int] = {}
        self._thread: threading.Thread | None = None

    def watch(self, pid: int) -> int:
        with self._lock:
            self._peaks[pid] = 0
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)
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
            roots = list(self._peaks)
        if not roots:
            return
        children: dict[int, list[int]] = {}
        for proc in psutil.process_iter(["ppid"]):
            children.setdefault(proc.info.get("ppid") or 0, []).append(proc.pid)
        found = {}
        for root in roots:
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

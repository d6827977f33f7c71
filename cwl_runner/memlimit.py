"""``--enforce-memory``: each local job runs in a memory cgroup limited to its RAM.

Without it a job's ``ramMin`` only books memory in the scheduler; with it, a job
that goes over is killed by the kernel's OOM killer inside its own cgroup, and
the cgroup's ``oom_kill`` counter tells us so for certain (a SIGKILL alone could
come from anywhere). The job's command is started through ``/bin/sh``, which
moves itself into the cgroup and then execs the command, so every process of
the job is inside from its first instruction.

cgroup v1 (``/sys/fs/cgroup/memory``) and v2 (a hierarchy whose
``cgroup.controllers`` lists ``memory``) are both understood; which one this
machine offers is found once. Containers run under their engine's daemon, not
under our cgroup: for them use the engine's own limit (cwltool's
``--strict-memory-limit``).
"""

from __future__ import annotations

import functools
import os
import re
import time

_NAME = "runner-cwl"


@functools.lru_cache(maxsize=1)
def _hierarchy() -> tuple[str, int] | None:
    """Where we may create memory cgroups, and the cgroup version; None if nowhere."""
    own = {}
    try:
        with open("/proc/self/cgroup") as handle:
            for line in handle:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                own[controllers] = path
    except OSError:
        return None
    candidates: list[tuple[str, int]] = []
    for controllers, path in own.items():
        if "memory" in controllers.split(","):
            candidates += [("/sys/fs/cgroup/memory" + path, 1), ("/sys/fs/cgroup/memory", 1)]
    if "" in own:
        for mount in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
            candidates.append((mount + own[""], 2))
    for base, version in candidates:
        base = os.path.normpath(base)
        if version == 2:
            try:
                with open(os.path.join(base, "cgroup.controllers")) as handle:
                    if "memory" not in handle.read().split():
                        continue
            except OSError:
                continue
        parent = os.path.join(base, _NAME)
        try:
            os.makedirs(parent, exist_ok=True)
            if version == 2:  # children of ours need the memory controller delegated
                with open(os.path.join(parent, "cgroup.subtree_control"), "w") as handle:
                    handle.write("+memory")
            probe = os.path.join(parent, f"probe-{os.getpid()}")
            os.mkdir(probe)
            os.rmdir(probe)
        except OSError:
            continue
        return parent, version
    return None


def available() -> bool:
    return _hierarchy() is not None


class MemoryCgroup:
    """One job's cgroup: created with its limit, read after the job, removed."""

    def __init__(self, job_id: str, ram_mib: int) -> None:
        found = _hierarchy()
        if found is None:
            raise OSError("no writable memory cgroup on this machine")
        parent, self.version = found
        safe = re.sub(r"[^\w.-]", "_", job_id)
        self.path = os.path.join(parent, f"{os.getpid()}-{safe}")
        os.makedirs(self.path, exist_ok=True)
        limit = str(max(1, ram_mib) * 2**20)
        if self.version == 1:
            self._write("memory.limit_in_bytes", limit)
            try:  # memory + swap: otherwise a job over its limit swaps instead of dying
                self._write("memory.memsw.limit_in_bytes", limit)
            except OSError:
                pass
        else:
            self._write("memory.max", limit)
            try:
                self._write("memory.swap.max", "0")
            except OSError:
                pass

    def _write(self, name: str, value: str) -> None:
        with open(os.path.join(self.path, name), "w") as handle:
            handle.write(value)

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` started inside the cgroup (the shell joins it, then execs)."""
        procs = os.path.join(self.path, "cgroup.procs")
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', procs, *argv]

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this cgroup for exceeding its memory."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            with open(os.path.join(self.path, name)) as handle:
                for line in handle:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
        except (OSError, ValueError):
            return False
        return False

    def remove(self) -> None:
        for _ in range(50):  # the last processes may still be on their way out
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)

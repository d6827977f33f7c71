"""Job directories made and removed off the leader's thread.

Every CommandLineTool job gets an output directory, a temporary directory and a
staging directory (cwltool's ``RuntimeContext.get_outdir``/``get_tmpdir``/
``get_stagedir``), and cwltool makes each with ``mkdtemp`` on the thread that builds
the job and removes the last two with ``rmtree`` after it. On a busy disk each of
those directory operations costs from 0.3 to 3 ms — more than the job's own
process spawn — and they all ran on the leader's one thread.

:class:`RunnerRuntimeContext` takes them off that thread:

- output and temporary directories come from :class:`WorkDirs`, whose thread keeps
  a few made ahead per prefix (as many as half the directories taken so far, at
  most ``ahead``), with ``mkdtemp`` names as before; when none is ready the leader
  makes one itself, so it never waits for the thread;
- the staging directory is a fresh name under the same prefix that is *not*
  created: cwltool's ``stage_files`` makes the directories of what it stages, so a
  job that stages nothing (most) never touches it;
- temporary and staging directories of ended jobs are removed by the same thread.

:meth:`WorkDirs.close` (end of the run) removes what was made ahead and unused,
and finishes the removals.
"""

from __future__ import annotations

import functools
import itertools
import os
import secrets
import shutil
import stat
import tempfile
import threading
from collections import deque

from cwltool.context import RuntimeContext
from cwltool.stdfsaccess import StdFsAccess


class WorkDirs:
    """Directories made ahead and removed by a few threads (directory operations
    wait on the disk's journal far more than they use the CPU, so several at once
    go several times faster)."""

    def __init__(self, ahead: int = 8, threads: int = 4) -> None:
        self.ahead = ahead
        self.threads = threads
        self._lock = threading.Condition()
        self._ready: dict[str, deque[str]] = {}
        self._making: dict[str, int] = {}
        self._taken: dict[str, int] = {}
        self._trash: deque[str] = deque()
        self._closed = False
        self._workers: list[threading.Thread] = []
        #: names() of this run: a random part, then a count
        self._token = secrets.token_hex(4)
        self._count = itertools.count(1)

    # -- the leader's side -----------------------------------------------------------
    def take(self, prefix: str) -> str:
        """A new empty directory whose path starts with ``prefix`` (``mkdtemp`` style)."""
        with self._lock:
            ready = self._ready.setdefault(prefix, deque())
            self._taken[prefix] = self._taken.get(prefix, 0) + 1
            path = ready.popleft() if ready else None
            if not self._closed and self._wanted(prefix):
                self._wake()
        return path if path is not None else _mkdtemp(prefix)

    def name(self, prefix: str) -> str:
        """A path under ``prefix`` that nothing uses, not created."""
        return f"{prefix}stage-{self._token}{next(self._count)}"

    def fresh(self, prefix: str) -> str:
        """A new name starting with ``prefix`` that nothing uses, not created: for a
        directory the job's own thread (or node) makes (``JobRecord.make_dirs``)."""
        return f"{prefix}{self._token}{next(self._count)}"

    def discard(self, path: str) -> None:
        """Remove ``path`` (a directory tree) soon, off the caller's thread."""
        with self._lock:
            if self._closed:
                _remove(path)
                return
            self._trash.append(path)
            self._wake()

    def close(self) -> None:
        """Finish the removals, and remove the directories made ahead and not taken."""
        with self._lock:
            self._closed = True
            for ready in self._ready.values():
                self._trash.extend(ready)
                ready.clear()
            self._lock.notify_all()
            workers = list(self._workers)
        for worker in workers:
            worker.join()
        with self._lock:
            leftover = list(self._trash)
            self._trash.clear()
        for path in leftover:
            _remove(path)

    # -- the threads -------------------------------------------------------------------
    def _wanted(self, prefix: str) -> bool:
        """Whether another directory should be made ahead for ``prefix`` (lock held)."""
        target = min(self.ahead, self._taken.get(prefix, 0) // 2)
        return len(self._ready.get(prefix, ())) + self._making.get(prefix, 0) < target

    def _wake(self) -> None:
        if len(self._workers) < self.threads:
            worker = threading.Thread(target=self._work, name=f"workdirs-{len(self._workers)}", daemon=True)
            self._workers.append(worker)
            worker.start()
        self._lock.notify()

    def _next(self) -> tuple[str, str] | None:
        """("make", prefix) or ("remove", path), waiting for one; None once closed
        and nothing is left to remove."""
        with self._lock:
            while True:
                if not self._closed:
                    for prefix in self._ready:
                        if self._wanted(prefix):
                            self._making[prefix] = self._making.get(prefix, 0) + 1
                            return "make", prefix
                if self._trash:
                    return "remove", self._trash.popleft()
                if self._closed:
                    return None
                self._lock.wait()

    def _work(self) -> None:
        while (task := self._next()) is not None:
            what, path = task
            if what == "remove":
                _remove(path)
                continue
            try:
                made: str | None = _mkdtemp(path)
            except OSError:  # the leader makes its own, and reports what is wrong
                made = None
            with self._lock:
                self._making[path] -= 1
                if made is None:
                    self._taken[path] = 0  # stop making ahead for this prefix
                elif self._closed:
                    self._trash.append(made)
                else:
                    self._ready[path].append(made)


def remove_tree(root: str, threads: int = 8, depth: int = 3) -> None:
    """``shutil.rmtree(root, ignore_errors=True)``, several subtrees at a time.

    A job store holds a few entries per job; removing thousands of them one after
    the other waits on the disk for each (seconds for a 1000-job run on a busy disk),
    while a few threads removing subtrees side by side take a fraction of that.
    """
    from concurrent.futures import ThreadPoolExecutor

    subtrees: list[str] = []

    def collect(path: str, level: int) -> None:
        try:
            entries = list(os.scandir(path))
        except OSError:
            return
        for entry in entries:
            if level < depth and entry.is_dir(follow_symlinks=False):
                collect(entry.path, level + 1)
            else:
                subtrees.append(entry.path)

    collect(root, 1)
    if len(subtrees) > 16:

        def remove_share(share: int) -> None:  # every threads-th subtree: no future per entry
            for path in subtrees[share::threads]:
                _remove_entry(path)

        with ThreadPoolExecutor(threads, thread_name_prefix="remove") as pool:
            list(pool.map(remove_share, range(threads)))
    shutil.rmtree(root, ignore_errors=True)


def _remove_entry(path: str) -> None:
    try:  # most entries are job directories the relocation emptied: one call
        os.rmdir(path)
        return
    except OSError:
        pass
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


def _mkdtemp(prefix: str) -> str:
    directory, name = os.path.split(prefix)
    return tempfile.mkdtemp(prefix=name, dir=directory)


def _remove(path: str) -> None:
    try:
        os.rmdir(path)  # the usual case: nothing was left in it
    except FileNotFoundError:
        pass
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


@functools.lru_cache(maxsize=64)
def _in_real_roots(prefixes: tuple[str, ...], roots: tuple[str, ...]) -> bool:
    """Whether the names made from each prefix lie directly in one of ``roots`` (a
    name's folder is its prefix's: no separator is added)."""
    return all(os.path.dirname(f"{prefix}x") in roots for prefix in prefixes)


class RunnerRuntimeContext(RuntimeContext):
    """cwltool's RuntimeContext with job directories from :class:`WorkDirs`."""

    runner_workdirs: WorkDirs | None = None
    #: the directories job directories are made in, known to be their own realpath
    runner_real_roots: tuple[str, ...] = ()

    def job_dirs(self) -> tuple[str, str, str] | None:
        """A new job's output, temporary and staging directories, resolved, when all
        three come from WorkDirs in a real root (mkdtemp's names hold no links, so
        each is its own realpath); None when cwltool's way must be taken."""
        if self.runner_workdirs is None or self.outdir or self.tmpdir or self.stagedir:
            return None
        dirs = (self.create_outdir(), self.create_tmpdir(), self.get_stagedir())
        roots = self.runner_real_roots
        if all(os.path.dirname(d) in roots for d in dirs):
            return dirs
        return None

    def job_dir_names(self) -> tuple[str, str, str] | None:
        """Like :meth:`job_dirs`, but only names: the output and temporary directories
        are made by whatever runs the job (``JobRecord.make_dirs``), off this thread."""
        workdirs = self.runner_workdirs
        if workdirs is None or self.outdir or self.tmpdir or self.stagedir:
            return None
        if not _in_real_roots((self.tmp_outdir_prefix, self.tmpdir_prefix), self.runner_real_roots):
            return None
        return (
            workdirs.fresh(self.tmp_outdir_prefix),
            workdirs.fresh(self.tmpdir_prefix),
            workdirs.name(self.tmpdir_prefix),
        )

    def create_outdir(self) -> str:
        if self.runner_workdirs is None:
            return super().create_outdir()
        return self.runner_workdirs.take(self.tmp_outdir_prefix)

    def create_tmpdir(self) -> str:
        if self.runner_workdirs is None:
            return super().create_tmpdir()
        return self.runner_workdirs.take(self.tmpdir_prefix)

    def get_stagedir(self) -> str:
        if self.stagedir or self.runner_workdirs is None:
            return super().get_stagedir()
        return self.runner_workdirs.name(self.tmpdir_prefix)


def use_workdirs(runtime_context: RuntimeContext, workdirs: WorkDirs) -> RuntimeContext:
    """A copy of ``runtime_context`` (and of every copy made of it) that uses ``workdirs``,
    and whose file system access resolves paths under the job directories cheaply."""
    context = runtime_context.copy()
    context.__class__ = RunnerRuntimeContext
    context.runner_workdirs = workdirs  # type: ignore[attr-defined]
    roots = {
        os.path.dirname(prefix)
        for prefix in (context.tmp_outdir_prefix, context.tmpdir_prefix)
        if prefix and os.path.isdir(os.path.dirname(prefix))
    }
    real = tuple(sorted(r for r in roots if os.path.realpath(r) == r))
    REAL_ROOTS.update(real)
    context.runner_real_roots = real  # type: ignore[attr-defined]
    if real:
        base = context.make_fs_access
        fast: type[StdFsAccess] = type(f"Fast{base.__name__}", (FastRealpath, base), {"real_roots": real})
        context.make_fs_access = fast
    return context


class FastRealpath(StdFsAccess):
    """``realpath`` in one ``lstat`` per component below a directory known to be real.

    cwltool resolves every job's three directories and every output it collects
    with ``os.path.realpath``, which ``lstat``s each component of the path from
    ``/``: seven or more calls for a path in the job store. Below one of
    ``real_roots`` (the job store's work directories, which are no symbolic links and
    whose own path is resolved once), only the components below it need a look.
    Any symbolic link, relative part or other surprise falls back to
    ``os.path.realpath``, so results are the same.
    """

    real_roots: tuple[str, ...] = ()

    def realpath(self, path: str) -> str:
        for root in self.real_roots:
            if path.startswith(root) and path[len(root) : len(root) + 1] == os.sep:
                rest = path[len(root) + 1 :]
                if rest and os.path.normpath(path) == path and ".." not in rest.split(os.sep):
                    return _real_below(root, rest, path)
                break
        return real_path(path)


#: directories known to be their own realpath, for :func:`real_path`: the job stores'
#: work directories and the final output directory (cwltool's relocation resolves
#: every output's path in the one and its new path in the other)
REAL_ROOTS: set[str] = set()


def add_real_root(path: str) -> None:
    """Let :func:`real_path` trust ``path`` (or, while it does not exist, its nearest
    existing parent) if that is a directory and its own realpath."""
    path = os.path.abspath(path)
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    if os.path.isdir(path) and os.path.realpath(path) == path and path != os.sep:
        REAL_ROOTS.add(path)


def real_path(path: str) -> str:
    """``os.path.realpath(path)``: one ``lstat`` per component below a root of
    :data:`REAL_ROOTS` (the deepest that holds it), the usual walk elsewhere."""
    best = ""
    if os.path.isabs(path):
        for root in REAL_ROOTS:
            if len(root) > len(best) and path.startswith(root) and path[len(root) : len(root) + 1] == os.sep:
                best = root
    if best:
        rest = path[len(best) + 1 :]
        if rest and os.path.normpath(path) == path and ".." not in rest.split(os.sep):
            return _real_below(best, rest, path)
    return os.path.realpath(path)


def _real_below(root: str, rest: str, path: str) -> str:
    current = root
    for part in rest.split(os.sep):
        current = f"{current}{os.sep}{part}"
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return os.path.realpath(path)
        except FileNotFoundError:
            return path  # os.path.realpath keeps what does not exist as it is
        except OSError:
            return os.path.realpath(path)
    return path

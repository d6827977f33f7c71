"""What a long-lived job thread keeps from one job to the next and lends its jobs: empty
temporary and output directories (:class:`LentDirs`) and a scratch file for what a job
does not capture itself (:class:`Scratch`). ``worker.execute`` borrows them with ``lazy=True``
(the local backend's job threads); a one-job worker process never does."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from typing import Any

from .job import JobRecord


class LentDirs:
    """Directories the job threads of a long-lived process lend their jobs.

    Making and removing a directory waits on the disk's journal: on a scatter of
    small commands the two cost as much as spawning the command (on this project's
    machine, an ext4 without a journal, a ``mkdir`` and its ``rmdir`` cost 0.3 ms of
    kernel time together; a ``rename`` costs a tenth of that). Each thread keeps one
    empty directory per parent and lends it to each job whose record allows it:

    - a TMPDIR (``recycle_tmpdir``: the job's temporary directory appears nowhere but
      in its environment), beside the record's ``tmpdir``, which is never made;
    - an output directory (``flatten``), beside the record's ``outdir``. When the job
      exits 0 with each of its output files found (``collect``), the worker renames
      the files out of it to their flat names (:func:`~cwl_runner.job.flat_path`)
      and the directory goes on to the next job; a job that ends any other way gets
      the directory renamed to its ``outdir``, as if it had been made for it
      (:meth:`give`), so that cwltool's collection and a failed job's inspection find
      everything where they always do.

    After a job the thread finds its directory empty (one listing, no write) and
    keeps it; one the job left something in is removed, and the thread makes a new
    one for the next job. :meth:`remove_all` removes them all (the backend's
    shutdown).
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: set[str] = set()
        self._lock = threading.Lock()

    def lend(self, template: str) -> str | None:
        """This thread's empty directory beside ``template`` (a job's directory, named
        but not made); None if none can be made."""
        template = template.rstrip(os.sep)
        parent = os.path.dirname(template)
        mine: dict[str, str] | None = getattr(self._local, "paths", None)
        if mine is None:
            mine = self._local.paths = {}
        path = mine.get(parent)
        if path is not None:
            return path
        try:
            import tempfile

            path = tempfile.mkdtemp(prefix=".lent-", dir=parent)  # (never a job's name: job.flat_path)
        except OSError:
            return None
        with self._lock:
            self._all.add(path)
        mine[parent] = path
        return path

    def take_back(self, path: str) -> None:
        """After the job: keep ``path`` if the job left it empty, else remove it."""
        try:
            with os.scandir(path) as entries:
                if next(entries, None) is None:
                    return
        except OSError:
            pass
        self._forget(path)
        shutil.rmtree(path, ignore_errors=True)

    def give(self, path: str, name: str) -> None:
        """Rename ``path`` (lent to a job) to ``name``: the job keeps it, and this thread
        makes another for its next job. OSError if it cannot be renamed."""
        self._forget(path)
        os.rename(path, name)

    def _forget(self, path: str) -> None:
        mine: dict[str, str] = getattr(self._local, "paths", None) or {}
        mine.pop(os.path.dirname(path), None)
        with self._lock:
            self._all.discard(path)

    def remove_all(self) -> None:
        with self._lock:
            paths = list(self._all)
            self._all.clear()
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)


class Scratch:
    """A job thread's scratch file for the uncaptured output of its jobs, one job at
    a time: emptied before each job, copied into the job's log only when needed."""

    _local = threading.local()

    def __init__(self, directory: str) -> None:
        self.directory = directory
        path = os.path.join(directory, f".scratch-{os.getpid()}-{threading.get_ident()}")
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
        os.unlink(path)  # only the descriptor is needed: nothing is left behind

    @classmethod
    def of(cls, directory: str) -> Scratch | None:
        """This thread's scratch file in ``directory``, emptied; None if none can be made."""
        mine: Scratch | None = getattr(cls._local, "scratch", None)
        try:
            if mine is None or mine.directory != directory:
                if mine is not None:
                    os.close(mine.fd)
                mine = cls._local.scratch = cls(directory)
            elif os.fstat(mine.fd).st_size:  # truncating an empty file still costs a journal write
                os.ftruncate(mine.fd, 0)
        except OSError:
            cls._local.scratch = None
            return None
        return mine

    def keep(self, record: JobRecord, started: float, force: bool, header: Callable[[JobRecord, float], bytes]) -> Any:
        """The job's log file, opened for its footer, when the job wrote to the scratch
        file or ``force``; else None (no log for a job with nothing to say)."""
        try:
            size = os.fstat(self.fd).st_size
            if not size and not force and not (record.attempt > 1 and record.log and os.path.exists(record.log)):
                return None  # (an earlier attempt's log goes on to this one's end)
            assert record.log is not None
            log_file = open(record.log, "ab")
            log_file.write(header(record, started))
            if record.attempt > 1:
                log_file.write(f"--- runner-cwl: attempt {record.attempt} ---\n".encode())
            offset = 0
            while offset < size:  # (sendfile refuses a log opened for appending)
                chunk = os.pread(self.fd, min(size - offset, 1 << 20), offset)
                if not chunk:
                    break
                log_file.write(chunk)
                offset += len(chunk)
            return log_file
        except OSError:  # a full disk: the job's result still stands
            return None

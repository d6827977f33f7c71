"""Run one job record: in-process for the local backend, or as
``python -m cwl_runner.worker JOBSTORE JOB_ID`` on any machine that reaches the
job store (what the Slurm backend submits).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from . import measure
from .job import SECRETS_ENV, JobRecord, JobResult, flat_path, record_key, result_key
from .jobstore.base import JobStore
from .jobthreads import LentDirs, Scratch

#: errno values of a failed start that say the machine, not the job, is short of something
_SYSTEM_ERRNOS = {errno.EAGAIN, errno.ENOMEM, errno.EMFILE, errno.ENFILE, errno.ENOSPC, errno.EIO}


def execute(
    record: JobRecord,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
    process_group: int | None = None,
    lazy: bool = False,
    lent_dirs: LentDirs | None = None,
) -> JobResult:
    """Run ``record``'s command to completion and say how it ended.

    With ``process_group`` (a :class:`~cwl_runner.guard.Guard`'s), the process
    joins that group, which is killed when this process ends. Without one it
    gets its own session (so a kill reaches its children too) and
    ``PR_SET_PDEATHSIG``, which costs a ``fork()`` of this whole process.
    What the tool does not capture itself goes to the record's log file (or
    to our stderr without one), never to our stdout, which carries the JSON.
    The log file also gets the command line first and the exit reason last.
    The result carries the job's CPU time and peak memory (``measure.py``).
    With ``lazy`` (jobs run by threads of a long-lived process), a record's
    ``lazy_log`` is honoured: see :class:`~cwl_runner.jobthreads.Scratch`; with ``lent_dirs``, a
    record's ``recycle_tmpdir`` and ``flatten`` (see :class:`~cwl_runner.jobthreads.LentDirs`).
    """
    started = time.time()
    files: list[int] = []  # descriptors to close once the command has them
    argv, env = _reveal(record)
    lent = lent_dirs.lend(record.tmpdir) if lent_dirs is not None and record.recycle_tmpdir and record.tmpdir else None
    if lent is not None:
        env = {k: lent if v == record.tmpdir else v for k, v in env.items()}
    outdir = record.outdir
    lent_out = None
    if lent_dirs is not None and record.flatten and record.outdir and record.cwd == record.outdir:
        lent_out = lent_dirs.lend(record.outdir)
        if lent_out is not None:  # the job's HOME, working directory and streams are there
            outdir = lent_out
            env = {k: lent_out if v == record.outdir else v for k, v in env.items()}
    for directory in record.make_dirs:
        if (lent is not None and directory == record.tmpdir) or (lent_out is not None and directory == record.outdir):
            continue
        try:
            os.mkdir(directory)
        except FileExistsError:
            pass
        except OSError as err:
            full = _disk_full(record)
            return JobResult(
                record.id, 1, started, time.time(), error=full or f"job directory: {err}", failure="system"
            )
    cgroup = None
    if record.enforce_memory:
        from .memlimit import MemoryCgroup

        try:
            cgroup = MemoryCgroup(record.id, record.ram)
        except OSError as err:
            return JobResult(record.id, 1, started, time.time(), error=f"memory cgroup: {err}", failure="system")
        argv = cgroup.wrap(argv)
    # the job's log stays open (appending) from its header to its footer: one open
    # per job instead of three (creating files is what costs here). A lazy log
    # (``lazy`` and record.lazy_log) starts in this thread's scratch file instead,
    # and becomes the log file only if the job wrote to it or did not exit 0.
    log_file: Any = None
    scratch: Any = None
    try:
        if record.log and lazy and record.lazy_log:
            scratch = Scratch.of(os.path.dirname(record.log))
        if record.log and scratch is None:
            log_file = open(record.log, "ab")
            log_file.write(_log_header(record, started))
            log_file.flush()  # before the job appends its own output
        # raw descriptors: a Python file object costs three more system calls per file
        # (fstat, isatty, lseek), each a release and re-take of the GIL that the leader
        # and the other job threads are waiting for
        stdin = _devnull()
        if record.stdin:
            stdin = os.open(record.stdin, os.O_RDONLY | os.O_CLOEXEC)
            files.append(stdin)
        log: Any = sys.stderr.fileno()
        if scratch is not None and not (record.stdout and record.stderr):
            log = scratch.fd
        elif log_file is not None and not (record.stdout and record.stderr):
            log = log_file
            if record.attempt > 1:
                try:
                    log_file.write(f"--- runner-cwl: attempt {record.attempt} ---\n".encode())
                    log_file.flush()
                except OSError:  # a full disk: the job says so itself
                    pass
        stdout: Any = log
        if record.stdout:
            stdout = os.open(_within(record.stdout, record.outdir, outdir), _NEW_FILE, 0o666)
            files.append(stdout)
        stderr: Any = log
        if record.stderr:
            stderr = os.open(_within(record.stderr, record.outdir, outdir), _NEW_FILE, 0o666)
            files.append(stderr)
        inherited = measure.own_rss()
        group: dict[str, Any] = (
            {"start_new_session": True, "preexec_fn": die_with_parent}
            if process_group is None
            else {"process_group": process_group}
        )
        cwd = outdir if lent_out is not None else record.cwd
        options = dict(stdin=stdin, stdout=stdout, stderr=stderr, env=env, cwd=cwd, close_fds=True, **group)
        program = _program(argv[0], env) if argv else None
        try:
            proc = subprocess.Popen(argv, executable=program, **options)
        except OSError:
            if program is None:
                raise
            _programs.clear()  # moved or removed since it was looked up: search again
            proc = subprocess.Popen(argv, **options)
    except OSError as err:
        for fd in files:
            os.close(fd)
        if cgroup is not None:
            cgroup.remove()
        if lent_out is not None:
            _give(lent_dirs, lent_out, record.outdir)
        what = err.strerror or str(err)
        full = _disk_full(record)
        failure = "system" if full or err.errno in _SYSTEM_ERRNOS else "task"
        result = JobResult(
            record.id, 127, started, time.time(), error=full or f"{record.argv[0]}: {what}", failure=failure
        )
        if scratch is not None:
            log_file = scratch.keep(record, started, force=True, header=_log_header)
        _log_footer(log_file, result, f"could not start: {result.error}")
        return result
    for fd in files:
        os.close(fd)
    sampler = measure.SAMPLER.watch(proc.pid)
    if on_start is not None:
        on_start(proc)
    timed_out, injected = _Flag(), _Flag()
    limit = float(record.timelimit) if record.timelimit else None
    timers: list[threading.Timer] = []
    if limit is not None:

        def time_is_up() -> None:
            if not injected.is_set():
                timed_out.set()
                terminate(proc, record)

        timers.append(threading.Timer(max(0.0, started + limit - time.time()), time_is_up))
    if record.fault_after is not None and (limit is None or record.fault_after < limit):

        def inject() -> None:  # --inject-faults: this job dies now
            if not timed_out.is_set():
                injected.set()
                terminate(proc, record, signals=(signal.SIGKILL,))

        timers.append(threading.Timer(record.fault_after, inject))
    for timer in timers:
        timer.daemon = True
        timer.start()
    try:
        code, usage, root_peak = measure.wait(proc)
    finally:
        for timer in timers:
            timer.cancel()
        tree_peak = measure.SAMPLER.forget(sampler)
    kind = None
    error = None
    if cgroup is not None:
        if code != 0 and not injected.is_set() and cgroup.oom_killed():
            kind = "memory"
        cgroup.remove()
    if code != 0 and kind is None and not injected.is_set():
        error = _disk_full(record)
        kind = "system" if error else None
    collected = None
    if record.collect is not None and not timed_out.is_set() and not injected.is_set() and error is None:
        collected = _collect(record, outdir)
    if record.upload and not timed_out.is_set() and not injected.is_set() and error is None:
        error = upload_outputs(record)
        kind = "system" if error else kind  # the job ran; its outputs did not reach the store
    result = JobResult(
        record.id,
        code,
        started,
        time.time(),
        timed_out=timed_out.is_set(),
        failure=kind,
        injected=injected.is_set(),
        error=error,
        collected=collected,
    )
    if lent_out is not None:
        assert lent_dirs is not None
        if collected is not None and code == 0 and error is None and _flatten(record, lent_out, collected):
            lent_dirs.take_back(lent_out)
            result.flattened = True
        else:
            result.error = result.error or _give(lent_dirs, lent_out, record.outdir)
            result.failure = result.failure or ("system" if result.error else None)
    if lent is not None:
        assert lent_dirs is not None
        lent_dirs.take_back(lent)
        result.tmpdir_removed = True  # never made
    elif collected is not None and record.drop_tmpdir and record.tmpdir:
        try:
            os.rmdir(record.tmpdir)  # the usual case: the job left nothing there
        except FileNotFoundError:
            pass
        except OSError:
            shutil.rmtree(record.tmpdir, ignore_errors=True)
        result.tmpdir_removed = True
    if usage is not None:
        result.cpu_user = round(usage.ru_utime, 3)
        result.cpu_system = round(usage.ru_stime, 3)
    result.peak_rss = measure.peak_memory(usage, max(root_peak, tree_peak), inherited)
    reason = "killed by --inject-faults" if result.injected else exit_reason(result, record.timelimit)
    if scratch is not None:
        log_file = scratch.keep(
            record, started, force=bool(code or result.error or result.timed_out), header=_log_header
        )
        result.no_log = log_file is None
    _log_footer(log_file, result, f"{reason}; {result.error}" if result.error else reason)
    return result


def _collect(record: JobRecord, outdir: str) -> dict[str, list[Any]] | None:
    """``record.collect``'s files in ``outdir`` (the record's, or the one lent to it) as
    [size, sha1] when each is a regular file (no link, no directory) and the tool wrote
    no ``cwl.output.json``; otherwise None."""
    assert record.collect is not None
    found: dict[str, list[Any]] = {}
    try:
        for name in record.collect:
            path = os.path.join(outdir, name)
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):
                return None
            found[name] = [info.st_size, sha1(path) if record.checksums else None]
        if os.path.lexists(os.path.join(outdir, "cwl.output.json")):
            return None
    except OSError:
        return None
    return found


def _within(path: str, outdir: str, lent: str) -> str:
    """``path`` (one of the record's, in its ``outdir``) in the directory lent instead."""
    if lent != outdir and path.startswith(outdir.rstrip(os.sep) + os.sep):
        return lent + path[len(outdir.rstrip(os.sep)) :]
    return path


def _flatten(record: JobRecord, lent: str, collected: dict[str, list[Any]]) -> bool:
    """Rename each collected file out of the lent directory to its flat path; False
    (with every file back where it was) if one cannot be."""
    moved: list[str] = []
    try:
        for name in collected:
            os.rename(os.path.join(lent, name), flat_path(record.outdir, name))
            moved.append(name)
    except OSError:
        for name in moved:
            try:
                os.rename(flat_path(record.outdir, name), os.path.join(lent, name))
            except OSError:
                pass
        return False
    return True


def _give(lent_dirs: LentDirs | None, lent: str, outdir: str) -> str | None:
    """The lent directory becomes the job's ``outdir`` (replacing an earlier attempt's,
    as a retry's would have run there); the error, if it cannot."""
    assert lent_dirs is not None
    outdir = outdir.rstrip(os.sep)
    try:
        lent_dirs.give(lent, outdir)
    except OSError:
        shutil.rmtree(outdir, ignore_errors=True)
        try:
            os.rename(lent, outdir)
        except OSError as err:
            return f"job directory: {err}"
    return None


class _Flag:
    """Set once by a timer's thread, read by the job's after the process ended: a
    ``threading.Event`` without its lock and condition (two per job), as nothing waits
    on it."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


_programs: dict[tuple[str, str], str] = {}


def _program(name: str, env: dict[str, str]) -> str | None:
    """Where the command ``name`` is in ``env``'s PATH, looked up once per name and PATH.

    Given a bare name, subprocess tries every PATH entry in the child, one failed
    ``execve`` after another, while (Python 3.11, vfork) the starting thread holds the
    GIL: 9 failed calls per job for ``echo`` with this machine's PATH. None
    (let subprocess search) for a name with a "/", a PATH with a relative entry (it
    depends on the job's directory), or a name that is not found."""
    if not name or "/" in name:
        return None
    path = env.get("PATH", os.defpath)
    found = _programs.get((name, path))
    if found is None:
        if not all(os.path.isabs(entry) for entry in path.split(os.pathsep)):
            return None
        found = _programs[(name, path)] = shutil.which(name, path=path) or ""
    return found or None


def sha1(path: str) -> str:
    """A file's SHA-1 (CWL's checksum), read through a raw descriptor (no file object)."""
    digest = hashlib.sha1()  # nosec - CWL's checksum
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while chunk := os.read(fd, 1 << 18):
            digest.update(chunk)
    finally:
        os.close(fd)
    return digest.hexdigest()


#: how a job's stdout and stderr files are opened (as Python's open(path, "wb") does)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
_null: list[int] = []
_null_lock = threading.Lock()


def _devnull() -> int:
    """One read-write descriptor of /dev/null for every job's stdin (subprocess.DEVNULL
    opens and closes one per process started)."""
    if not _null:
        with _null_lock:
            if not _null:
                _null.append(os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC))
    return _null[0]


def exit_reason(result: JobResult, timelimit: int | None = None) -> str:
    """How a job's process ended, in a few words."""
    if result.timed_out:
        return f"stopped: time limit of {timelimit or '?'} s exceeded"
    if result.exit_code < 0:
        try:
            return f"killed by signal {signal.Signals(-result.exit_code).name}"
        except ValueError:
            return f"killed by signal {-result.exit_code}"
    return f"exit code {result.exit_code}"


def _log_header(record: JobRecord, started: float) -> bytes:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
    lines = [
        f"# runner-cwl job {record.id} ({record.name}) started {when}",
        f"# command: {shlex.join(record.argv)}",
    ]
    if record.stdin:
        lines.append(f"# stdin: {record.stdin}")
    for what, path in (("stdout", record.stdout), ("stderr", record.stderr)):
        if path:
            lines.append(f"# {what}: {path} (captured by the tool)")
    return ("\n".join(lines) + "\n").encode()


def _log_footer(log_file: Any, result: JobResult, reason: str) -> None:
    """End the job's log (open since its header) with how the job ended, and close it."""
    if log_file is None:
        return
    try:
        with log_file:
            cpu = result.cpu_user + result.cpu_system
            footer = (
                f"# ended after {result.ended - result.started:.2f} s: {reason}"
                f" (cpu {cpu:.2f} s, peak memory {result.peak_rss / 2**20:.1f} MiB)\n"
            )
            log_file.write(footer.encode())
    except OSError:
        pass


def upload_outputs(record: JobRecord) -> str | None:
    """Put the job's output directory into the job store; the error, if any."""
    from .remote import RemoteError, upload_tree

    assert record.upload is not None
    try:
        upload_tree(record.outdir, record.upload)
    except (RemoteError, OSError) as err:
        return f"uploading the outputs to {record.upload}: {err}"
    return None


def _disk_full(record: JobRecord) -> str | None:
    """Why a failed job failed, when its directory's disk is full (the tool's own
    message may not have reached its log: that is on the same disk)."""
    for path in dict.fromkeys(p for p in (record.outdir, record.tmpdir, record.cwd) if p):
        try:
            stat = os.statvfs(path)
        except OSError:
            continue
        if stat.f_bavail * stat.f_frsize < 1 << 20:  # under 1 MiB left
            return f"no space left on the disk of {path} ({stat.f_bavail * stat.f_frsize // 1024} KiB free)"
    return None


def _reveal(record: JobRecord) -> tuple[list[str], dict[str, str]]:
    """The command line and environment with the secrets' placeholders replaced."""
    secrets = record.secrets
    if not secrets:
        return record.argv, record.env

    def reveal(value: str) -> str:
        for placeholder, secret in secrets.items():
            if placeholder in value:
                value = value.replace(placeholder, secret)
        return value

    return [reveal(a) for a in record.argv], {k: reveal(v) for k, v in record.env.items()}


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the child, before exec: be killed when the process that started us dies.

    A leader (or worker) that dies, even by SIGKILL, takes its running jobs with it,
    so a restarted run never finds a job of the old one still writing its outputs.
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _signal(proc: subprocess.Popen[bytes], sig: int, tree: list[Any]) -> bool:
    """Send ``sig`` to a job's process group or, when it shares a guard's group, to
    the process and its descendants (``tree`` keeps those found so far, so children
    orphaned by the first signal still get the second). False when all are gone."""
    try:
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, sig)
            return True
    except (ProcessLookupError, PermissionError):
        if not tree:
            return False
    import psutil

    try:
        parent = psutil.Process(proc.pid)
        found = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        found = []
    tree.extend(p for p in found if p not in tree)
    alive = False
    for target in tree:
        try:
            target.send_signal(sig)  # psutil checks the pid was not reused
            alive = True
        except psutil.Error:
            pass
    return alive


def terminate(
    proc: subprocess.Popen[bytes],
    record: JobRecord,
    grace: float = 5.0,
    signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGKILL),
) -> None:
    """Stop a job: its container (if any), then its process group (or tree).

    It does not reap the process: the thread that runs the job does (and takes
    its resource usage with it).
    """
    if record.cidfile and record.container_engine:
        try:
            with open(record.cidfile) as handle:
                cid = handle.read().strip()
            if cid:
                subprocess.run(
                    [record.container_engine, "kill", cid],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=30,
                    check=False,
                )
        except (OSError, subprocess.TimeoutExpired):
            pass
    tree: list[Any] = []
    for sig in signals:
        if not _signal(proc, sig, tree):
            return
        if measure.wait_exited(proc, grace):
            return


def main(argv: list[str] | None = None) -> int:
    """Entry point: load the record from the store, run it, store the result."""
    from .jobstore import open_jobstore

    args = sys.argv[1:] if argv is None else argv
    if len(args) == 3 and args[1] == "--array":
        # one task of a Slurm job array: the manifest lists each task's job ids
        store = open_jobstore(args[0], create=False)
        task = int(os.environ.get("SLURM_ARRAY_TASK_ID", "-1"))
        tasks = json.loads(store.get(args[2]))
        if not 0 <= task < len(tasks):
            print(f"runner-cwl worker: no task {task} in {args[2]}", file=sys.stderr)
            return 1
        return max(run_stored(store, job_id) for job_id in tasks[task])
    if len(args) != 2:
        print("usage: python -m cwl_runner.worker JOBSTORE JOB_ID | JOBSTORE --array MANIFEST", file=sys.stderr)
        return 2
    return run_stored(open_jobstore(args[0], create=False), args[1])


def run_stored(store: JobStore, job_id: str) -> int:
    """Run the job ``job_id`` of ``store`` and store its result."""
    try:
        record = JobRecord.from_json(store.get(record_key(job_id)))
    except KeyError:
        print(f"runner-cwl worker: no job {job_id} in {store.locator}", file=sys.stderr)
        return 1
    secrets = os.environ.get(SECRETS_ENV)
    if secrets:
        record.secrets = json.loads(secrets)
    result = execute(record)
    store.put(result_key(record.id), result.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())

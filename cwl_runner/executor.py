"""The executor: drives a CWL process through our scheduler.

``Executor`` is a cwltool ``JobExecutor``, so ``cwltool.main.main(argv,
executor=Executor())`` runs through it. It walks cwltool's job iterator on one
thread: ready jobs are submitted (never run inline), and whenever the workflow
has nothing more to hand out, the loop waits for the scheduler to report an
ended job, whose outputs then make new steps ready.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import shutil
import socket
import time
from collections.abc import Iterator
from typing import Any

from cwl_utils.types import CWLObjectType
from cwltool.command_line_tool import CallbackJob
from cwltool.context import RuntimeContext
from cwltool.errors import UnsupportedRequirement, WorkflowException
from cwltool.executors import JobExecutor
from cwltool.job import JobBase
from cwltool.process import Process
from cwltool.utils import DEFAULT_TMP_PREFIX
from cwltool.workflow_job import WorkflowJob

from . import failures, patches, preflight, provenance, relocate, reuse
from . import progress as display
from . import report as run_report
from .backends import make_backend
from .errors import ConfigurationError, JobStoreError, RunnerError
from .events import RunEvents, scatter_index, step_of
from .failures import Failure
from .job import JobRecord, JobResult
from .jobstore import JobStore, open_jobstore
from .logs import info_wanted
from .retry import FaultInjector, RetryPolicy
from .runstate import Leadership, RunRecord, StoreLease, ensure_restartable, ensure_unused, read_run
from .scheduler import Limits, Scheduler
from .staging import Stager
from .tools import ScheduledJob, scheduled
from .workdirs import WorkDirs, add_real_root, use_workdirs

_logger = logging.getLogger("cwltool")
CLEAN_POLICIES = ("on-success", "always", "on-error", "never")


def machine_limits() -> Limits:
    """This machine's cores (those we may run on), RAM in MiB, and CUDA GPUs."""
    import psutil

    try:
        cores = float(len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = float(os.cpu_count() or 1)
    gpus = 0
    if shutil.which("nvidia-smi"):
        from cwltool.cuda import cuda_version_and_device_count

        gpus = cuda_version_and_device_count()[1]
    return Limits(cores=cores, ram=int(psutil.virtual_memory().total // 2**20), gpus=gpus)


@contextlib.contextmanager
def _quiet_when_unseen(logger: logging.Logger, runtime_context: RuntimeContext) -> Iterator[None]:
    """While jobs run, no INFO record of ``logger`` when no handler would show one.

    cwltool logs a line or two at INFO for every step job it makes; with ``--quiet``
    (its handler at WARNING) each is still made and formatted, for nothing. The
    logger's level says the same at no cost; it is put back when the run ends.
    Provenance keeps its INFO log, and so does any handler that wants INFO.
    """
    if runtime_context.research_obj is not None or info_wanted(logger) or logger.level > logging.INFO:
        yield
        return
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


class Executor(JobExecutor):
    """A cwltool executor that runs every CommandLineTool job as a scheduled job."""

    def __init__(
        self,
        jobstore: str | None = None,
        keep_jobstore: bool = False,
        max_cores: float | None = None,
        max_memory: int | None = None,
        max_gpus: int | None = None,
        batch_system: str = "local",
        use_worker_process: bool = False,
        slurm_args: str | None = None,
        slurm_arrays: bool = True,
        slurm_batch_size: int = 1,
        clean: str = "on-success",
        restart: bool = False,
        report: str | None = None,
        stats: bool = False,
        log_dir: str | None = None,
        progress: str = "none",
        retry_count: int = 0,
        max_system_retries: int = 2,
        inject_faults: float = 0.0,
        inject_faults_seed: int | None = None,
        enforce_memory: bool = False,
    ) -> None:
        super().__init__()
        patches.apply()
        if batch_system == "local":
            machine = machine_limits()
        else:  # the cluster decides what fits; ours are only caps the user asked for
            machine = Limits(cores=math.inf, ram=2**62, gpus=2**62)
        self.limits = Limits(
            cores=max_cores if max_cores else machine.cores,
            ram=max_memory if max_memory else machine.ram,
            gpus=max_gpus if max_gpus is not None else machine.gpus,
        )
        self.slurm_args = slurm_args
        self.slurm_arrays = slurm_arrays
        self.slurm_batch_size = slurm_batch_size
        self.jobstore_locator = jobstore
        if clean not in CLEAN_POLICIES:
            raise ConfigurationError(f"--clean {clean}: choose from {', '.join(CLEAN_POLICIES)}")
        self.clean = "never" if keep_jobstore else clean
        self.restart = restart
        if retry_count < 0 or max_system_retries < 0:
            raise ConfigurationError("--retry-count and --max-system-retries must be 0 or more")
        if not 0.0 <= inject_faults < 1.0:
            raise ConfigurationError(f"--inject-faults {inject_faults:g}: give a fraction of jobs, 0 <= RATE < 1")
        self.retry = RetryPolicy(
            retry_count=retry_count, max_system_retries=max_system_retries, max_ram=self.limits.ram
        )
        self.faults = FaultInjector(inject_faults, inject_faults_seed) if inject_faults else None
        if enforce_memory:
            if batch_system != "local":
                raise ConfigurationError("--enforce-memory is for local jobs (Slurm enforces --mem itself)")
            from . import memlimit

            if not memlimit.available():
                raise ConfigurationError(
                    "--enforce-memory needs a writable memory cgroup (v1 /sys/fs/cgroup/memory, "
                    "or v2 with the memory controller delegated); none here"
                )
        self.enforce_memory = enforce_memory
        self.batch_system = batch_system
        self.use_worker_process = use_worker_process
        self.jobstore: JobStore | None = None
        self.scheduler: Scheduler | None = None
        self.failures: list[Failure] = []
        self._counter = 0
        self._stopping = False
        self._outdirs_in_store = False
        self._log_dir = ""
        self._leadership: Leadership | None = None
        self.run_record = RunRecord()
        #: reuse of earlier runs' jobs, and the record of this run's (reuse.py)
        self.reuse = reuse.Reuse()
        self._state_changed = False
        # what users see: the event log, the live display, the report (events.py, progress.py, report.py)
        self.report_path = report
        self.stats = stats
        self.log_dir = log_dir
        self.progress_mode = progress
        self.events = RunEvents()
        self._progress: display.Display = display.make("none", self.events, self._usage)
        self.stager = Stager(None, "")
        self._events_warned = False
        self.workdirs: WorkDirs | None = None
        self._export_url: str | None = None

    # -- the seams the tools use -------------------------------------------------
    def next_job_id(self) -> str:
        self._counter += 1
        attempt = self.run_record.attempt
        return f"{self._counter:06d}" if attempt == 1 else f"{attempt}.{self._counter:06d}"

    @property
    def flat_outputs_allowed(self) -> bool:
        """Whether a job's output files may be kept beside its output directory instead
        of in it (``JobRecord.flatten``): job directories are in the job store, which
        goes as a whole, and no --cachedir keeps a job's whole directory."""
        return self._outdirs_in_store and self.reuse.cache is None

    def discard(self, path: str) -> None:
        """Remove a job's temporary or staging directory soon, off this thread."""
        if self.workdirs is not None:
            self.workdirs.discard(path)
        else:
            shutil.rmtree(path, True)

    def log_path(self, record: JobRecord, job: Any = None) -> str:
        """A job's log (command, uncaptured stdout/stderr, exit reason) in --log-dir:
        ``STEP.ID.log``, or ``STEP.INDEX.ID.log`` for a scatter's INDEXth job."""
        step = step_of(job) if job is not None else record.name
        safe = _safe_name(step)
        index = scatter_index(job) if job is not None else None
        middle = f"{safe}.{index}" if index is not None else safe
        return os.path.join(self._log_dir, f"{middle}.{record.id}.log")

    def check_request(self, name: str, cores: float, ram: int, gpus: int) -> None:
        assert self.scheduler is not None
        self.scheduler.check_request(name, cores, ram, gpus)

    def submit(self, job: ScheduledJob, record: JobRecord, runtime_context: RuntimeContext) -> None:
        assert self.scheduler is not None
        self._state_changed = True
        if job.outdir and not self._outdirs_in_store:
            self.output_dirs.add(job.outdir)
        record.lazy_log = not self.log_dir  # with --log-dir the user asked for every job's log
        self.events.submitted(record, step_of(job), scatter_index(job))
        if self.enforce_memory and not record.cidfile:  # containers: the engine's limits
            record.enforce_memory = True
        self.scheduler.submit(record, lambda result: self._ended(job, record, result, runtime_context))

    def _ended(self, job: ScheduledJob, record: JobRecord, result: JobResult, rc: RuntimeContext) -> None:
        self._state_changed = True
        if self._stopping:
            self.failures.append(Failure(job.name, "cancelled", record, result))
            self.events.ended_job(record, result, "cancelled")
            return
        status = job.finish(result, rc)
        self.events.ended_job(record, result, status)
        if status != "success":
            self.failures.append(Failure(job.name, status, record, result))
            if rc.on_error == "stop":
                self._stop()

    def _stop(self) -> None:
        if not self._stopping and self.scheduler is not None:
            self._stopping = True
            self.scheduler.cancel_all()

    # -- cwltool's JobExecutor interface -----------------------------------------
    def execute(
        self,
        process: Process,
        job_order_object: CWLObjectType,
        runtime_context: RuntimeContext,
        logger: logging.Logger = _logger,
    ) -> tuple[CWLObjectType | None, str]:
        self.failures = []
        self._stopping = False
        self._export_url = None
        if isinstance(runtime_context.outdir, str) and runtime_context.outdir.startswith("s3://"):
            # cwltool can only relocate to a local directory: we export to S3 ourselves
            self._export_url = runtime_context.outdir.rstrip("/") + "/"
            runtime_context = runtime_context.copy()
            runtime_context.outdir = None
        cache = None
        if runtime_context.cachedir:
            # our cache, not cwltool's: its per-job lock would block our one leader thread
            cache = reuse.Cache(runtime_context.cachedir)
            runtime_context = runtime_context.copy()
            if runtime_context.tmp_outdir_prefix == cache.root + "_tmp":  # cwltool's main set it so
                runtime_context.tmp_outdir_prefix = DEFAULT_TMP_PREFIX
            runtime_context.cachedir = None
        if not runtime_context.validate_only:
            preflight.check_inputs(job_order_object)
            preflight.check(process, runtime_context)
        self.jobstore, earlier = self._open_jobstore()
        self.reuse = reuse.Reuse(self.jobstore, earlier, cache)
        # an S3 store's leaders may be on different hosts: a lease in the store, not a flock
        lease = StoreLease(self.jobstore) if self.jobstore.remote_outputs else None
        leadership = Leadership(self.jobstore, lease=lease)
        leadership.acquire()
        try:
            self.run_record = self._start_record(process)
            leadership.write(self.run_record)
            self._leadership = leadership
            self._start_watching(quiet=runtime_context.validate_only)
            with _quiet_when_unseen(_logger, runtime_context):
                output, status = self._execute_in_store(process, job_order_object, runtime_context, logger)
            if output is not None and self._export_url is not None:
                from .export import export_to_s3

                export_to_s3(output, self._export_url)
        except BaseException as err:
            self.run_record.status = "interrupted" if isinstance(err, KeyboardInterrupt) else "permanentFail"
            self._stop_watching(self.run_record.status, logger)
            self._finish_record(leadership)
            if isinstance(err, KeyboardInterrupt):
                logger.error(
                    "Stopped. To finish the run: runner-cwl --restart --jobstore %s WORKFLOW INPUTS",
                    self.jobstore.locator,
                )
            raise
        self._stop_watching(status, logger)
        self.report_failures(logger)
        self.report_retries(logger)
        self.run_record.status = status
        status = self._finish_record(leadership)
        clean = {"always": True, "never": False, "on-success": status == "success", "on-error": status != "success"}
        if clean[self.clean]:
            self.jobstore.destroy()
        else:
            logger.info("Job store kept: %s", self.jobstore.locator)
        return output, status

    def _start_watching(self, quiet: bool = False) -> None:
        """The event log and the live display, from the start of the run."""
        assert self.jobstore is not None
        record = self.run_record
        self.events = RunEvents(
            workflow=record.workflow,
            attempt=record.attempt,
            host=record.host,
            jobstore=self.jobstore.locator,
            limits={"cores": self.limits.cores, "ram": self.limits.ram, "gpus": self.limits.gpus},
        )
        if self.restart:
            self.events.load_previous(self.jobstore)
        self._progress = display.make("none" if quiet else self.progress_mode, self.events, self._usage)
        self._progress.start()

    def _stop_watching(self, status: str, logger: logging.Logger) -> None:
        """Final display, event log, --report and --stats (also after a failure)."""
        assert self.jobstore is not None
        self.events.reused = self.reuse.reused
        self.events.close(status)
        self._progress.stop()
        try:
            self.events.save(self.jobstore, force=True)
            run_report.after_run(self.events.to_dict(), self.report_path, self.stats, logger)
        except Exception as err:  # the run's own outcome matters more than its report
            logger.error("could not write the run report: %s", err)

    def _usage(self) -> display.Usage:
        scheduler = self.scheduler
        if scheduler is None:
            return display.Usage()
        limits = scheduler.limits
        return display.Usage(
            len(scheduler.running()),
            limits.cores - scheduler.free_cores,
            limits.cores,
            limits.ram - scheduler.free_ram,
            limits.ram,
        )

    def _open_jobstore(self) -> tuple[JobStore, dict[str, str]]:
        """The store for this run: a new one, or, with --restart, one holding an unfinished
        run (with the outputs of the jobs it finished)."""
        if self.restart:
            if self.jobstore_locator is None:
                raise ConfigurationError("--restart needs the --jobstore of the run to finish")
            store = open_jobstore(self.jobstore_locator, create=False)
            ensure_restartable(store)
            return store, reuse.load_done(store)
        store = open_jobstore(self.jobstore_locator)
        ensure_unused(store)
        return store, {}

    def _start_record(self, process: Process) -> RunRecord:
        assert self.jobstore is not None
        previous = read_run(self.jobstore) if self.restart else None
        return RunRecord(
            workflow=str(process.tool.get("id", "")),
            started=previous.started if previous else time.time(),
            pid=os.getpid(),
            host=socket.gethostname(),
            attempt=previous.attempt + 1 if previous else 1,
        )

    def _finish_record(self, leadership: Leadership) -> str:
        """Write the run's end to run.json; the run's status (a failure if it could not)."""
        if self.jobstore is not None:
            self.jobstore.close()  # the done journal
        record = self.run_record
        self._update_record()
        record.failures = [f.entry() for f in self.failures if f.status != "cancelled"]
        return leadership.finish(record, self.jobstore.locator if self.jobstore else "")

    def _update_record(self) -> None:
        record = self.run_record
        record.counts = self.counts()
        tally = self.retry.tally
        record.retries = {kind: n for kind, n in tally.retried.items() if n}
        record.faults_injected = tally.faults_injected
        record.succeeded_after_retry = tally.succeeded_after_retry

    def counts(self) -> dict[str, int]:
        scheduler = self.scheduler
        running = len(scheduler.running()) if scheduler else 0
        failed = sum(1 for f in self.failures if f.status != "cancelled")
        return {
            "started": scheduler.started if scheduler else 0,
            "running": running,
            "finished": scheduler.finished if scheduler else 0,
            "failed": failed,
            "reused": self.reuse.reused,
        }

    def _execute_in_store(
        self,
        process: Process,
        job_order_object: CWLObjectType,
        runtime_context: RuntimeContext,
        logger: logging.Logger,
    ) -> tuple[CWLObjectType | None, str]:
        assert self.jobstore is not None
        runtime_context = runtime_context.copy()
        runtime_context.runner_executor = self  # type: ignore[attr-defined]
        # job directories live in the job store unless the user chose otherwise
        self._outdirs_in_store = runtime_context.tmp_outdir_prefix in (DEFAULT_TMP_PREFIX, "", None)
        if self._outdirs_in_store:
            # job outdirs live in the store, and go with it (--clean): cwltool's clean-up
            # of "intermediate" outputs would delete what --restart reuses. It also spares
            # cwltool's output relocation a check of every file against every job's outdir
            # (quadratic in the number of jobs)
            runtime_context.tmp_outdir_prefix = self.jobstore.workdir("out")
        if runtime_context.move_outputs == "move":
            # outputs recorded for --restart stay in the store until the run is over:
            # a leader killed halfway through the export must find them there (only a
            # run that succeeded and whose store goes next moves them: see run_jobs)
            runtime_context.move_outputs = "copy"
        if runtime_context.tmpdir_prefix in (DEFAULT_TMP_PREFIX, "", None):
            runtime_context.tmpdir_prefix = self.jobstore.workdir("tmp")
        # validated here while it still knows its file:line, then detached from ruamel:
        # every job's inputs are deep-copied from it, and ruamel's copies are slow
        job_order_object = preflight.validate_inputs(process, job_order_object, runtime_context)
        self._log_dir = self.jobstore.workdir("logs")
        if self.log_dir:
            self._log_dir = os.path.abspath(self.log_dir)
            os.makedirs(self._log_dir, exist_ok=True)
        self.stager = Stager(self.jobstore, self.jobstore.workdir("cache"))
        # final outputs in the store are hard-linked into --outdir, not copied
        patches.LINKABLE_ROOTS.add(os.path.realpath(self.jobstore.workdir("out")))
        if isinstance(runtime_context.outdir, str):  # where cwltool relocates the final outputs
            add_real_root(runtime_context.outdir)
        patches.LINKABLE_ROOTS.add(os.path.realpath(self.jobstore.workdir("cache")))
        runtime_context.path_mapper = self.stager.path_mapper()
        runtime_context.make_fs_access = self.stager.fs_access()
        backend = make_backend(
            self.batch_system,
            self.jobstore,
            self._log_dir,
            use_worker_process=self.use_worker_process,
            slurm_args=self.slurm_args,
            slurm_arrays=self.slurm_arrays,
            slurm_batch_size=self.slurm_batch_size,
        )
        remote = self.batch_system not in ("local", "noop") or self.use_worker_process
        self.scheduler = Scheduler(
            backend, self.limits, self.jobstore, store_records=remote, retry=self.retry, faults=self.faults
        )
        self.scheduler.on_start = self.events.started_job
        # job directories made and removed off this thread (workdirs.py)
        self.workdirs = WorkDirs()
        runtime_context = use_workdirs(runtime_context, self.workdirs)
        try:
            return super().execute(process, job_order_object, runtime_context, logger)
        finally:
            relocate.allow_moves()  # only ever for this run's own relocation
            self.reuse.flush()
            backend.shutdown()
            self.workdirs.close()

    def run_jobs(
        self,
        process: Process,
        job_order_object: CWLObjectType,
        logger: logging.Logger,
        runtime_context: RuntimeContext,
    ) -> None:
        scheduler = self.scheduler
        assert scheduler is not None
        provenance.start_tool(process, runtime_context)
        jobiter = process.job(job_order_object, self.output_callback, runtime_context)
        try:
            for job in jobiter:
                if job is None:
                    if scheduler.busy():
                        self._wait()
                        continue
                    logger.error("Workflow cannot make any more progress.")
                    break
                if runtime_context.validate_only:
                    name = job.tool.lc.filename if isinstance(job, WorkflowJob) else getattr(job, "name", str(job))
                    print(
                        f"{name} is valid CWL. No errors detected in the inputs.", file=runtime_context.validate_stdout
                    )
                    return
                if isinstance(job, JobBase) and runtime_context.builder is not None:
                    job.builder = runtime_context.builder
                self._start(job, provenance.job_context(process, job, job_order_object, runtime_context))
                if self._stopping:
                    break
                scheduler.wait(0)
            while scheduler.busy():
                if self._stopping:
                    scheduler.cancel_all()
                self._wait()
            if self.final_output and self.final_output[0] is not None and self._export_url is None:
                # cwltool relocates local files into --outdir: fetch what is remote first
                self.stager.localize(self.final_output[0])
                if (
                    self.final_status == ["success"]
                    and self._outdirs_in_store
                    and self.clean in ("on-success", "always")
                ):
                    # the store goes once the outputs are out: they may be moved, not linked
                    # (a restart after a kill in between runs those jobs again)
                    assert self.jobstore is not None
                    relocate.allow_moves(os.path.realpath(self.jobstore.workdir("out")))
        except BaseException:
            self._stop()
            while scheduler.busy():
                scheduler.wait(10)
            raise

    def _wait(self) -> None:
        """Wait for an ended job; meanwhile keep run.json current (at most once a second)."""
        assert self.scheduler is not None
        self.reuse.flush()
        self.scheduler.wait(1.0)
        if self._leadership is not None:
            self._leadership.keep()
        if self._state_changed and self._leadership is not None:
            self._update_record()
            self._state_changed = not self._leadership.write(self.run_record, force=False)
        assert self.jobstore is not None
        try:
            self.events.save(self.jobstore)
        except JobStoreError as err:  # the report can wait; the run goes on (a full disk, ...)
            if not self._events_warned:
                _logger.warning("the run's event log is not saved for now: %s", err)
                self._events_warned = True
        self._progress.update()

    def _start(self, job: Any, runtime_context: RuntimeContext) -> None:
        """Run a job's preparation (submission for tool jobs, all of it for others)."""
        if isinstance(job, JobBase) and not isinstance(job, ScheduledJob):
            # made by another tool factory (e.g. plain cwltool.main with our executor):
            # give it the scheduled variant of its own class, which only adds methods
            job.__class__ = scheduled(type(job))
        if isinstance(job, CallbackJob):
            self.reuse.reused += 1
        try:
            job.run(runtime_context)
        except UnsupportedRequirement:
            raise
        except (WorkflowException, RunnerError, OSError) as err:
            name = getattr(job, "name", str(job))
            _logger.error("[job %s] cannot start: %s", name, err, exc_info=runtime_context.debug)
            self.failures.append(Failure(name, "permanentFail", getattr(job, "record", None), None, str(err)))
            self.events.not_started(name, step_of(job), str(err))
            callback = getattr(job, "output_callback", None)
            if callback is not None:
                callback({}, "permanentFail")
            if runtime_context.on_error == "stop":
                self._stop()

    # -- reporting -----------------------------------------------------------------
    def report_failures(self, logger: logging.Logger) -> None:
        """First failure in full, then '(and N more)'."""
        summary = failures.summary(self.failures, self._log_dir)
        if summary:
            logger.error(summary)

    def report_retries(self, logger: logging.Logger) -> None:
        line = failures.retry_line(self.retry.tally, self.faults is not None)
        if line:
            logger.warning(line)


@functools.lru_cache(maxsize=1024)
def _safe_name(step: str) -> str:
    """A step's part of its jobs' log file names (worked out once per step)."""
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in step)[:80]

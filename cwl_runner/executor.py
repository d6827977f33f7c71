"""The executor: drives a CWL process through our scheduler.

``Executor`` is a cwltool ``JobExecutor``, so ``cwltool.main.main(argv,
executor=Executor())`` runs through it. It walks cwltool's job iterator on one
thread: ready jobs are submitted (never run inline), and whenever the workflow
has nothing more to hand out, the loop waits for the scheduler to report an
ended job, whose outputs then make new steps ready.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass
from typing import Any

from cwl_utils.types import CWLObjectType
from cwltool.context import RuntimeContext
from cwltool.errors import UnsupportedRequirement, WorkflowException
from cwltool.executors import JobExecutor
from cwltool.job import JobBase
from cwltool.process import Process
from cwltool.utils import DEFAULT_TMP_PREFIX
from cwltool.workflow_job import WorkflowJob

from . import patches, preflight
from .backends import make_backend
from .errors import RunnerError
from .job import JobRecord, JobResult
from .jobstore import JobStore, open_jobstore
from .scheduler import Limits, Scheduler
from .tools import ScheduledJob, scheduled

_logger = logging.getLogger("cwltool")


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


@dataclass
class Failure:
    name: str
    status: str
    record: JobRecord | None
    result: JobResult | None
    message: str = ""


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
        self.jobstore_locator = jobstore
        self.keep_jobstore = keep_jobstore or jobstore is not None
        self.batch_system = batch_system
        self.use_worker_process = use_worker_process
        self.jobstore: JobStore | None = None
        self.scheduler: Scheduler | None = None
        self.failures: list[Failure] = []
        self._counter = 0
        self._stopping = False
        self._outdirs_in_store = False
        self._log_dir = ""

    # -- the seams the tools use -------------------------------------------------
    def next_job_id(self) -> str:
        self._counter += 1
        return f"{self._counter:06d}"

    def log_path(self, record: JobRecord) -> str:
        """Where a job's uncaptured stdout/stderr go: the job store's log folder."""
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in record.name)[:80]
        return os.path.join(self._log_dir, f"{record.id}-{safe}.log")

    def check_request(self, name: str, cores: float, ram: int, gpus: int) -> None:
        assert self.scheduler is not None
        self.scheduler.check_request(name, cores, ram, gpus)

    def submit(self, job: ScheduledJob, record: JobRecord, runtime_context: RuntimeContext) -> None:
        assert self.scheduler is not None
        if job.outdir and not self._outdirs_in_store:
            self.output_dirs.add(job.outdir)
        self.scheduler.submit(record, lambda result: self._ended(job, record, result, runtime_context))

    def _ended(self, job: ScheduledJob, record: JobRecord, result: JobResult, rc: RuntimeContext) -> None:
        if self._stopping:
            self.failures.append(Failure(job.name, "cancelled", record, result))
            return
        status = job.finish(result, rc)
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
        if not runtime_context.validate_only:
            preflight.check_inputs(job_order_object)
            preflight.check(process, runtime_context)
        self.jobstore = open_jobstore(self.jobstore_locator)
        runtime_context = runtime_context.copy()
        runtime_context.runner_executor = self  # type: ignore[attr-defined]
        # job directories live in the job store unless the user chose otherwise
        self._outdirs_in_store = runtime_context.tmp_outdir_prefix in (DEFAULT_TMP_PREFIX, "", None)
        if self._outdirs_in_store:
            # every job's outdir is under one folder of the store: cwltool's output
            # relocation then checks one prefix per file, not one per job (which is
            # quadratic in the number of jobs), and moves rather than copies
            runtime_context.tmp_outdir_prefix = self.jobstore.workdir("out")
            self.output_dirs.add(os.path.realpath(runtime_context.tmp_outdir_prefix) + os.sep)
        if runtime_context.tmpdir_prefix in (DEFAULT_TMP_PREFIX, "", None):
            runtime_context.tmpdir_prefix = self.jobstore.workdir("tmp")
        # validated here while it still knows its file:line, then detached from ruamel:
        # every job's inputs are deep-copied from it, and ruamel's copies are slow
        job_order_object = preflight.validate_inputs(process, job_order_object, runtime_context)
        self._log_dir = self.jobstore.workdir("logs")
        backend = make_backend(
            self.batch_system,
            self.jobstore,
            self._log_dir,
            use_worker_process=self.use_worker_process,
            slurm_args=self.slurm_args,
            slurm_arrays=self.slurm_arrays,
        )
        remote = self.batch_system != "local" or self.use_worker_process
        self.scheduler = Scheduler(backend, self.limits, self.jobstore, store_records=remote)
        try:
            output, status = super().execute(process, job_order_object, runtime_context, logger)
        finally:
            backend.shutdown()
        self.report_failures(logger)
        if status == "success" and not self.keep_jobstore:
            self.jobstore.destroy()
        elif status != "success":
            logger.info("Job store kept for inspection: %s", self.jobstore.locator)
        return output, status

    def run_jobs(
        self,
        process: Process,
        job_order_object: CWLObjectType,
        logger: logging.Logger,
        runtime_context: RuntimeContext,
    ) -> None:
        scheduler = self.scheduler
        assert scheduler is not None
        jobiter = process.job(job_order_object, self.output_callback, runtime_context)
        try:
            for job in jobiter:
                if job is None:
                    if scheduler.busy():
                        scheduler.wait(None)
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
                self._start(job, runtime_context)
                if self._stopping:
                    break
                scheduler.wait(0)
            while scheduler.busy():
                if self._stopping:
                    scheduler.cancel_all()
                scheduler.wait(None)
        except BaseException:
            self._stop()
            while scheduler.busy():
                scheduler.wait(10)
            raise

    def _start(self, job: Any, runtime_context: RuntimeContext) -> None:
        """Run a job's preparation (submission for tool jobs, all of it for others)."""
        if isinstance(job, JobBase) and not isinstance(job, ScheduledJob):
            # made by another tool factory (e.g. plain cwltool.main with our executor):
            # give it the scheduled variant of its own class, which only adds methods
            job.__class__ = scheduled(type(job))
        try:
            job.run(runtime_context)
        except UnsupportedRequirement:
            raise
        except (WorkflowException, RunnerError, OSError) as err:
            name = getattr(job, "name", str(job))
            _logger.error("[job %s] cannot start: %s", name, err, exc_info=runtime_context.debug)
            self.failures.append(Failure(name, "permanentFail", getattr(job, "record", None), None, str(err)))
            callback = getattr(job, "output_callback", None)
            if callback is not None:
                callback({}, "permanentFail")
            if runtime_context.on_error == "stop":
                self._stop()

    # -- reporting -----------------------------------------------------------------
    def report_failures(self, logger: logging.Logger) -> None:
        """First failure in full, then '(and N more)'."""
        real = [f for f in self.failures if f.status != "cancelled"]
        if not real:
            return
        first = real[0]
        lines = [f"{len(real)} job(s) failed. First: step '{first.name}' ({first.status})"]
        if first.message:
            lines.append(f"  error: {first.message}")
        if first.result is not None:
            if first.result.error:
                lines.append(f"  error: {first.result.error}")
            elif first.result.timed_out:
                lines.append("  stopped: time limit exceeded")
            elif first.result.exit_code == 0:
                lines.append("  exit code: 0, but collecting its outputs failed (see the error above)")
            else:
                lines.append(f"  exit code: {first.result.exit_code}")
        if first.record is not None:
            lines.append("  command: " + " ".join(first.record.argv))
            log = first.record.stderr or first.record.log
            if log and os.path.exists(log):
                tail = _tail(log, 10)
                if tail:
                    lines.append(f"  last lines of {log}:")
                    lines.extend("    " + line for line in tail)
        if len(real) > 1:
            lines.append(
                f"  (and {len(real) - 1} more: "
                + ", ".join(f.name for f in real[1:6])
                + (", ..." if len(real) > 6 else "")
                + ")"
            )
        logger.error("\n".join(lines))


def _tail(path: str, count: int) -> list[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 4096))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    return data.splitlines()[-count:]

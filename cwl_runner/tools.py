"""Our CommandLineTool: each invocation becomes a scheduled job.

cwltool's job classes (host, Docker, Podman, Singularity) prepare a job: they
stage inputs with cwltool's PathMapper, build the container command line and
the environment. Where cwltool would then run the command and block, we turn
what it built into a :class:`~cwl_runner.job.JobRecord`, hand it to the
scheduler and return at once; :meth:`ScheduledJob.finish` collects the outputs
when the scheduler reports the job ended. Everything before and after is
cwltool's own code, so CWL semantics stay cwltool's.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shlex
import signal
import threading
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from cwltool.command_line_tool import CommandLineTool, PathCheckingMode
from cwltool.context import LoadingContext, RuntimeContext
from cwltool.errors import WorkflowException
from cwltool.job import JobBase, needs_shell_quoting_re, neverquote, relink_initialworkdir
from cwltool.utils import bytes2str_in_dicts

from . import provenance
from .confine import Confinement
from .job import JobRecord, JobResult
from .logs import info_wanted
from .reuse import job_key
from .staging import to_store_urls

if TYPE_CHECKING:
    from .executor import Executor

_logger = logging.getLogger("cwltool")


def _executor(runtime_context: RuntimeContext) -> Executor:
    executor = getattr(runtime_context, "runner_executor", None)
    if executor is None:
        raise WorkflowException("runner-cwl job started outside the runner-cwl executor")
    return executor


class ScheduledJob(JobBase):
    """Mixed in before one of cwltool's job classes (see :func:`scheduled`)."""

    record: JobRecord | None = None
    #: how the job ended (set by finish, before the outputs are collected)
    result: JobResult | None = None
    content_key: str | None = None
    step_name: str | None = None
    confined = False

    def run(self, runtimeContext: RuntimeContext, tmpdir_lock: threading.Lock | None = None) -> None:
        """Refuse a job that could never fit, or reuse a finished one, before cwltool
        prepares (stages) it."""
        executor = _executor(runtimeContext)
        cores, ram, gpus = self._resources()
        executor.check_request(self.name, cores, ram, gpus)
        docker = self.get_requirement("DockerRequirement")[0]
        image = (
            (docker.get("dockerPull") or docker.get("dockerImageId"))
            if docker and runtimeContext.use_container
            else None
        )
        self.content_key = job_key(self, [str(a) for a in self.command_line], str(image) if image else None)
        outputs = executor.reuse.outputs(self.content_key)
        if outputs is not None:
            if info_wanted(_logger):
                _logger.info("[job %s] finished in an earlier attempt: reusing its outputs", self.name)
            provenance.job_reused(self, runtimeContext, outputs)
            if self.output_callback:
                self.output_callback(outputs, "success")
            return
        self._prepare_and_execute(runtimeContext, tmpdir_lock)

    def _prepare_and_execute(self, runtimeContext: RuntimeContext, tmpdir_lock: threading.Lock | None) -> None:
        """cwltool's run: stage the inputs, then ``_execute`` (ours: submit)."""
        super().run(runtimeContext, tmpdir_lock)  # type: ignore[safe-super]

    def _resources(self) -> tuple[float, int, int]:
        resources = self.builder.resources
        return (
            float(resources.get("cores", 1)),
            int(math.ceil(resources.get("ram", 256))),
            int(math.ceil(resources.get("cudaDeviceCount", 0))),
        )

    def _execute(
        self,
        runtime: list[str],
        env: MutableMapping[str, str],
        runtimeContext: RuntimeContext,
        monitor_function: Callable[..., None] | None = None,
    ) -> None:
        """Build the job record from what cwltool prepared and submit it."""
        executor = _executor(runtimeContext)
        if self.get_requirement("ShellCommandRequirement")[0] is not None:
            shouldquote: Callable[..., Any] = neverquote
        else:
            shouldquote = needs_shell_quoting_re.search
        if self.mpi_procs:
            menv = runtimeContext.mpi_config
            runtime = [menv.runner, menv.nproc_flag, str(self.mpi_procs), *menv.extra_flags, *runtime]
            menv.pass_through_env_vars(env)
            menv.set_env_vars(env)
        commands = [str(x) for x in runtime + self.command_line]
        if not commands:
            raise WorkflowException(
                "Cannot run a CommandLineTool that produces an empty command line. "
                "Specify a 'baseCommand', 'arguments', and/or an input with an "
                "'inputBinding' so there is a program to execute."
            )
        if info_wanted(_logger):
            _logger.info(
                "[job %s] %s$ %s%s%s%s",
                self.name,
                self.outdir,
                " \\\n    ".join(shlex.quote(a) if shouldquote(a) else a for a in commands),
                f" < {self.stdin}" if self.stdin else "",
                f" > {os.path.join(self.base_path_logs, self.stdout)}" if self.stdout else "",
                f" 2> {os.path.join(self.base_path_logs, self.stderr)}" if self.stderr else "",
            )
        provenance.job_submitted(self, runtimeContext)
        stdin_path = None
        if self.stdin is not None:
            rmap = self.pathmapper.reversemap(self.stdin)
            if rmap is None:
                raise WorkflowException(f"{self.stdin} missing from pathmapper")
            stdin_path = rmap[1]
        stdout_path = self._log_path(self.stdout)
        stderr_path = self._log_path(self.stderr)
        secrets: dict[str, str] = {}
        if runtimeContext.secret_store is not None:
            # the record keeps the placeholders (it may be written to the job store);
            # the worker puts the values in just before it starts the command
            used = [*commands, *env.values()]
            secrets = {p: v for p, v in runtimeContext.secret_store.secrets.items() if any(p in x for x in used)}
        cores, ram, gpus = self._resources()
        cidfile = next((a.split("=", 1)[1] for a in runtime if a.startswith("--cidfile=")), None)
        self.record = JobRecord(
            id=executor.next_job_id(),
            name=self.name,
            argv=commands,
            env=dict(env),
            cwd=self.outdir,
            stdin=stdin_path,
            stdout=stdout_path,
            stderr=stderr_path,
            timelimit=self.timelimit,
            cores=cores,
            ram=ram,
            gpus=gpus,
            cidfile=cidfile,
            container_engine=runtime[0] if cidfile else None,
            outdir=self.outdir,
            tmpdir=self.tmpdir,
            success_codes=list(self.successCodes),
            temporary_fail_codes=list(self.temporaryFailCodes),
            permanent_fail_codes=list(self.permanentFailCodes),
            secrets=secrets,
        )
        self.record.log = executor.log_path(self.record, self)
        self.record.upload = executor.stager.output_url(self.record.id)
        if self.record.upload:
            executor.stager.register(self.record.id, self.outdir)
        self.fill_record(self.record, runtimeContext)
        executor.submit(self, self.record, runtimeContext)

    def fill_record(self, record: JobRecord, runtimeContext: RuntimeContext) -> None:
        """What a kind of job adds to its record before it is submitted."""

    def discard_dirs(self, result: JobResult, executor: Executor) -> None:
        """Remove the job's temporary and staging directories (--rm-tmpdir, the default)."""
        if self.stagedir is not None:
            executor.discard(self.stagedir)  # often never made: nothing was staged
        executor.discard(self.tmpdir)

    def _log_path(self, name: str | None) -> str | None:
        if name is None:
            return None
        path = os.path.join(self.base_path_logs, name)
        if os.path.dirname(path) != self.outdir.rstrip(os.sep):  # the outdir exists: no look
            os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def finish(self, result: JobResult, runtimeContext: RuntimeContext) -> str:
        """Collect outputs once the job ended and call back into the workflow.

        Mirrors the second half of cwltool's ``JobBase._execute``. Returns the
        process status.
        """
        rcode = result.exit_code
        self.result = result
        outputs: dict[str, Any] = {}
        try:
            if result.error:
                raise WorkflowException(result.error)
            if rcode in self.successCodes:
                status = "success"
            elif rcode in self.temporaryFailCodes:
                status = "temporaryFail"
            elif rcode in self.permanentFailCodes:
                status = "permanentFail"
            elif rcode == 0:
                status = "success"
            else:
                status = "permanentFail"
            if status != "success":
                if result.timed_out:
                    _logger.warning("[job %s] exceeded its time limit of %s s", self.name, self.timelimit)
                elif rcode < 0:
                    _logger.warning("[job %s] was terminated by signal %s", self.name, signal.Signals(-rcode).name)
                else:
                    _logger.warning("[job %s] exited with status %d", self.name, rcode)
            if "listing" in self.generatefiles and self.generatemapper:
                relink_initialworkdir(
                    self.generatemapper, self.outdir, self.builder.outdir, inplace_update=self.inplace_update
                )
            assert self.record is not None
            runtimeContext.log_dir_handler(self.outdir, self.base_path_logs, self.record.stdout, self.record.stderr)
            collected = self.collect_outputs(self.outdir, rcode)
            if not self.confined:  # the fast path builds its outputs from text: no bytes in them
                collected = bytes2str_in_dicts(collected)  # type: ignore[arg-type,assignment]
            # what the job was given: its inputs, and files InitialWorkDirRequirement staged
            mappers = [self.pathmapper, *([self.generatemapper] if self.generatemapper else [])]
            given = [(e.resolved, e.type) for m in mappers for _, e in m.items() if e.type in _PATH_TYPES]
            if not self.confined:  # the fast path's outputs are confined by how they were found
                Confinement(self.outdir, given).check(collected)
            outputs = collected  # type: ignore[assignment]
            if self.record.upload:
                to_store_urls(outputs, self.outdir, self.record.upload)
        except WorkflowException as err:
            _logger.error("[job %s] Job error:\n%s", self.name, err, exc_info=runtimeContext.debug)
            status = "permanentFail"
        except OSError as err:
            _logger.error("[job %s] %s", self.name, err, exc_info=runtimeContext.debug)
            status = "permanentFail"
        except RecursionError:
            _logger.error("[job %s] collecting its outputs found a loop of symbolic links", self.name)
            status = "permanentFail"
        provenance.job_ended(self, runtimeContext, outputs, result.ended or None)
        if status != "success":
            _logger.warning("[job %s] completed %s", self.name, status)
        elif info_wanted(_logger):
            _logger.info("[job %s] completed %s", self.name, status)
        if status == "success" and self.content_key:
            # recorded before the workflow hears of it (written before the leader next waits):
            # a restart does not run it again
            outputs = _executor(runtimeContext).reuse.record(self.content_key, outputs, self.outdir)
        if self.output_callback:
            lock = runtimeContext.workflow_eval_lock or threading.RLock()
            with lock:
                self.output_callback(outputs, status)
        if runtimeContext.rm_tmpdir:
            self.discard_dirs(result, _executor(runtimeContext))
        return status


#: pathmapper entries that are paths on this machine (not literals to create)
_PATH_TYPES = ("File", "Directory", "WritableFile", "WritableDirectory")

_SCHEDULED: dict[type[JobBase], type[JobBase]] = {}


def scheduled(base: type[JobBase]) -> type[JobBase]:
    """The scheduled variant of one of cwltool's job classes (made once, cached)."""
    cls = _SCHEDULED.get(base)
    if cls is None:
        cls = type(f"Scheduled{base.__name__}", (ScheduledJob, base), {})
        _SCHEDULED[base] = cls
    return cls


class _PathCheck:
    """What file names a job accepts: cwltool's strict set, plus spaces and '#'.

    The CWL spec lets a basename hold any character but '/', and the required
    v1.2 test ``filename_with_hash_mark`` stages ``item #1.txt``. Commands get
    their arguments as a list (and quoted under ShellCommandRequirement), so
    these two are safe; ``--relax-path-checks`` still lifts every restriction.
    """

    value = re.compile(PathCheckingMode.STRICT.value.pattern.replace(r"^[\w", r"^[\w #", 1))


class RunnerCommandLineTool(CommandLineTool):
    """cwltool's CommandLineTool whose jobs go through our scheduler."""

    def __init__(self, toolpath_object: Any, loadingContext: LoadingContext) -> None:
        super().__init__(toolpath_object, loadingContext)
        if not loadingContext.relax_path_checks:
            self.path_check_mode = _PathCheck  # type: ignore[assignment]
        from . import fastpath, plan

        self.fast_mode = fastpath.mode()
        self.fast_plan = plan.plan_for(self) if self.fast_mode != "off" else None

    def make_job_runner(self, runtimeContext: RuntimeContext) -> type[JobBase]:
        return scheduled(super().make_job_runner(runtimeContext))

    def job(self, job_order: Any, output_callbacks: Any, runtimeContext: RuntimeContext) -> Any:
        step = runtimeContext.name  # the workflow step's name (cwltool sets it per step)
        plan = self.fast_plan
        if plan is not None:
            from . import fastpath
            from . import plan as planning

            if plan.requirements_key != planning.requirements_key(self):
                plan = self.fast_plan = planning.plan_for(self)
            if plan is not None and planning.usable(plan, runtimeContext):
                slow = None
                if self.fast_mode == "check":
                    slow = next(iter(super().job(job_order, output_callbacks, runtimeContext)))
                fast = fastpath.make_job(self, plan, job_order, output_callbacks, runtimeContext)
                if fast is not None:
                    if slow is not None:
                        fastpath.check(fast, slow, runtimeContext)
                    fast.step_name = step
                    yield fast
                    return
                if isinstance(slow, ScheduledJob):
                    slow.step_name = step
                    yield slow
                    return
        for job in super().job(job_order, output_callbacks, runtimeContext):
            if step and isinstance(job, ScheduledJob):
                job.step_name = step
            yield job

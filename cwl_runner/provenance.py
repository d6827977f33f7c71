"""``--provenance DIR``: the CWLProv research object cwltool's own executor records.

cwltool's main creates the research object (``runtimeContext.research_obj``),
writes the input and output objects and the packed workflow into it, records
the workflow run's outputs and closes the bag. What it leaves to the executor
is the per-job part, done in ``SingleJobExecutor.run_jobs`` and
``JobBase._execute``: the prospective provenance (the workflow's steps as
plans), the inputs the workflow used, and one ``wfprov:ProcessRun`` activity
per tool job with the files it used and generated. These functions are those
calls, at the same points of a job's life; ours only split ``_execute`` in
two halves (submission, then :meth:`ScheduledJob.finish`), so the process
run's inputs are recorded at submission and its outputs when it ended.

Everything here runs on the leader thread, as all PROV document updates must.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from cwl_utils.types import CWLObjectType
from cwltool.context import RuntimeContext
from cwltool.job import ContainerCommandLineJob, JobBase
from cwltool.process import Process
from cwltool.workflow import Workflow

_logger = logging.getLogger("cwltool")


def start_tool(process: Process, runtime_context: RuntimeContext) -> None:
    """A run of a single CommandLineTool/ExpressionTool: its own provenance profile
    (a workflow made one when it was loaded)."""
    research_obj = runtime_context.research_obj
    if research_obj is None or isinstance(process, Workflow):
        return
    process.provenance_object = research_obj.initialize_provenance(
        full_name=runtime_context.cwl_full_name,
        host_provenance=runtime_context.prov_host,
        user_provenance=runtime_context.prov_user,
        orcid=runtime_context.orcid,
        run_uuid=research_obj.ro_uuid,  # single tool: RO UUID = run UUID
        fsaccess=runtime_context.make_fs_access(""),
    )
    process.parent_wf = process.provenance_object


def job_context(
    process: Process, job: Any, job_order_object: CWLObjectType, runtime_context: RuntimeContext
) -> RuntimeContext:
    """Before ``job.run``: record what cwltool records when it picks a job (the
    workflow's plan and inputs for a workflow job, a ProcessRun for a tool job).
    Returns the context to run the job with (carrying ``prov_obj`` and
    ``process_run_id``, which the job keeps until it ended)."""
    if runtime_context.research_obj is None:
        return runtime_context
    prov_obj = process.provenance_object if not isinstance(process, Workflow) else getattr(job, "prov_obj", None)
    process_run_id = None
    if prov_obj:
        # set on the executor's context, as cwltool does: the workflow's own copies
        # of it hand it on to the jobs it makes (an ExpressionTool's job takes it)
        runtime_context.prov_obj = prov_obj
        prov_obj.fsaccess = runtime_context.make_fs_access("")
        prov_obj.evaluate(process, job, job_order_object, runtime_context.research_obj)
        process_run_id = prov_obj.record_process_start(process, job)
    runtime_context = runtime_context.copy()
    runtime_context.process_run_id = process_run_id
    return runtime_context


def job_submitted(job: JobBase, runtime_context: RuntimeContext) -> None:
    """The first half of ``JobBase._execute``: the files and values the job uses."""
    if job.joborder is None or runtime_context.research_obj is None:
        return
    if runtime_context.process_run_id is not None and runtime_context.prov_obj is not None:
        if isinstance(job.joborder, (list, dict)):
            runtime_context.prov_obj.used_artefacts(job.joborder, runtime_context.process_run_id, str(job.name))
    else:
        _logger.warning("[job %s] provenance: no process run to record its inputs under", job.name)


def job_ended(job: JobBase, runtime_context: RuntimeContext, outputs: Any, ended: float | None = None) -> None:
    """The second half of ``JobBase._execute``: the job's outputs and its end."""
    prov_obj = job.prov_obj
    if runtime_context.research_obj is None or prov_obj is None or runtime_context.process_run_id is None:
        return
    when = datetime.datetime.fromtimestamp(ended) if ended else datetime.datetime.now()
    prov_obj.record_process_end(str(job.name), runtime_context.process_run_id, outputs, when)


def job_reused(job: JobBase, runtime_context: RuntimeContext, outputs: Any) -> None:
    """A job whose outputs an earlier attempt recorded (``--restart``): recorded as if
    it had run (what it used, what it generated), without running it."""
    if runtime_context.research_obj is None:
        return
    if isinstance(job, ContainerCommandLineJob):  # as its run() would have done
        job.prov_obj = runtime_context.prov_obj
    job_submitted(job, runtime_context)
    job_ended(job, runtime_context, outputs)

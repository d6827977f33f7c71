"""Our Workflow: cwltool's, with a step loop that suits concurrent jobs.

cwltool's ``WorkflowJob.job`` gives up as soon as a step failed and nothing new
can start, even while other steps are still running. With jobs that finish
later (ours), that would drop every step downstream of a still-running one. Our
loop waits for running steps before giving up, so ``--on-error continue`` runs
every job that does not depend on a failure.
"""

from __future__ import annotations

import logging

from cwl_utils.types import CWLObjectType
from cwltool.context import RuntimeContext, getdefault
from cwltool.cwlprov.writablebagfile import create_job
from cwltool.errors import WorkflowException
from cwltool.process import shortname
from cwltool.utils import JobsGeneratorType, OutputCallbackType
from cwltool.workflow import Workflow
from cwltool.workflow_job import WorkflowJob, WorkflowStateItem
from schema_salad.sourceline import SourceLine
from schema_salad.utils import json_dumps

_logger = logging.getLogger("cwltool")


class RunnerWorkflowJob(WorkflowJob):
    def job(  # the loop of cwltool's WorkflowJob.job, changed where marked
        self,
        joborder: CWLObjectType,
        output_callback: OutputCallbackType,
        runtimeContext: RuntimeContext,
    ) -> JobsGeneratorType:
        self.state = {}
        self.processStatus = "success"
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug("[%s] inputs %s", self.name, json_dumps(joborder, indent=4))
        runtimeContext = runtimeContext.copy()
        runtimeContext.outdir = None
        stop_on_error = getdefault(runtimeContext.on_error, "stop") == "stop"

        for index, inp in enumerate(self.tool["inputs"]):
            with SourceLine(self.tool["inputs"], index, WorkflowException, runtimeContext.debug):
                inp_id = shortname(inp["id"])
                if inp_id in joborder:
                    self.state[inp["id"]] = WorkflowStateItem(inp, joborder[inp_id], "success")
                elif "default" in inp:
                    self.state[inp["id"]] = WorkflowStateItem(inp, inp["default"], "success")
                else:
                    raise WorkflowException(
                        f"Input '{inp['id']}' not in input object and does not have a default value."
                    )
        for step in self.steps:
            for out in step.tool["outputs"]:
                self.state[out["id"]] = None

        completed = 0
        while completed < len(self.steps):
            self.made_progress = False
            for step in self.steps:
                if stop_on_error and self.processStatus != "success":
                    break
                if not step.submitted:
                    try:
                        step.iterable = self.try_make_job(step, output_callback, runtimeContext)
                    except WorkflowException as exc:
                        _logger.error("[%s] Cannot make job: %s", step.name, exc)
                        _logger.debug("", exc_info=True)
                        self.processStatus = "permanentFail"
                if step.iterable is not None:
                    try:
                        for newjob in step.iterable:
                            if stop_on_error and self.processStatus != "success":
                                break
                            if newjob is None:
                                break
                            self.made_progress = True
                            yield newjob
                    except WorkflowException as exc:
                        _logger.error("[%s] Cannot make job: %s", step.name, exc)
                        _logger.debug("", exc_info=True)
                        self.processStatus = "permanentFail"
            completed = sum(1 for s in self.steps if s.completed)
            if not self.made_progress and completed < len(self.steps):
                # changed: after a failure, give up only once no step is still running
                running = any(s.submitted and not s.completed for s in self.steps)
                if self.processStatus != "success" and (stop_on_error or not running):
                    break
                yield None

        if self.processStatus != "success":
            blocked = [shortname(step.id) for step in self.steps if not step.submitted]
            if blocked:
                _logger.warning(
                    "[workflow %s] not run because a step they depend on failed: %s", self.name, ", ".join(blocked)
                )
        if not self.did_callback:
            self.do_output_callback(output_callback)


class RunnerWorkflow(Workflow):
    def job(
        self,
        job_order: CWLObjectType,
        output_callbacks: OutputCallbackType,
        runtimeContext: RuntimeContext,
    ) -> JobsGeneratorType:
        builder = self._init_job(job_order, runtimeContext)
        if runtimeContext.research_obj is not None and runtimeContext.toplevel:
            runtimeContext.research_obj.fsaccess = runtimeContext.make_fs_access("")
            create_job(runtimeContext.research_obj, builder.job)
        job = RunnerWorkflowJob(self, runtimeContext)
        yield job
        runtimeContext = runtimeContext.copy()
        runtimeContext.part_of = f"workflow {job.name}"
        runtimeContext.toplevel = False
        yield from job.job(builder.job, output_callbacks, runtimeContext)

"""Our Workflow: cwltool's, with a step loop that suits concurrent jobs.

cwltool's ``WorkflowJob.job`` gives up as soon as a step failed and nothing new
can start, even while other steps are still running. With jobs that finish
later (ours), that would drop every step downstream of a still-running one. Our
loop waits for running steps before giving up, so ``--on-error continue`` runs
every job that does not depend on a failure.

cwltool's loop also looks at every step of the workflow each time it resumes, and
counts the finished steps after every step that finishes: O(steps) per event, so
O(steps²) for a workflow. Ours looks only at the steps that may have become
ready — those whose sources just received a value — and at those still handing
out jobs (a scatter), in step order as cwltool does, and keeps a count.
"""

from __future__ import annotations

import heapq
import logging

from cwl_utils.types import CWLObjectType
from cwltool.context import RuntimeContext, getdefault
from cwltool.cwlprov.writablebagfile import create_job
from cwltool.errors import WorkflowException
from cwltool.process import shortname
from cwltool.utils import JobsGeneratorType, OutputCallbackType, aslist
from cwltool.workflow import Workflow
from cwltool.workflow_job import WorkflowJob, WorkflowJobStep, WorkflowStateItem
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

        # changed: which steps read each value, so a step is looked at again only when
        # one of its sources got a value (or while it still hands out jobs)
        self._index = {id(step): index for index, step in enumerate(self.steps)}
        self._consumers: dict[str, list[int]] = {}
        for index, step in enumerate(self.steps):
            for inp in step.tool["inputs"]:
                for source in aslist(inp.get("source")):
                    self._consumers.setdefault(source, []).append(index)
        self._dirty: set[int] = set(range(len(self.steps)))
        self._counted: set[int] = set()
        live: set[int] = set()  # submitted steps whose job iterators are not exhausted

        while len(self._counted) < len(self.steps):
            self.made_progress = False
            heap = sorted(self._dirty | live)  # a sorted list is a heap
            self._dirty.clear()
            position = -1
            while heap:
                index = heapq.heappop(heap)
                if index <= position:
                    continue
                position = index
                step = self.steps[index]
                if stop_on_error and self.processStatus != "success":
                    break
                if not step.submitted:
                    try:
                        step.iterable = self.try_make_job(step, output_callback, runtimeContext)
                    except WorkflowException as exc:
                        _logger.error("[%s] Cannot make job: %s", step.name, exc)
                        _logger.debug("", exc_info=True)
                        self.processStatus = "permanentFail"
                exhausted = True
                if step.iterable is not None:
                    try:
                        for newjob in step.iterable:
                            if stop_on_error and self.processStatus != "success":
                                exhausted = False
                                break
                            if newjob is None:
                                exhausted = False
                                break
                            self.made_progress = True
                            yield newjob
                    except WorkflowException as exc:
                        _logger.error("[%s] Cannot make job: %s", step.name, exc)
                        _logger.debug("", exc_info=True)
                        self.processStatus = "permanentFail"
                if exhausted or step.completed:
                    live.discard(index)
                else:
                    live.add(index)
                if step.completed:  # also when cwltool marked it so without an output
                    self._counted.add(index)
                # steps later in the order that became ready meanwhile: this round
                later = [i for i in self._dirty if i > position]
                for i in later:
                    self._dirty.discard(i)
                    heapq.heappush(heap, i)
            if not self.made_progress and len(self._counted) < len(self.steps):
                # after a failure, give up only once no step is still running
                running = any(s.submitted and not s.completed for s in self.steps)
                if self.processStatus != "success" and (stop_on_error or not running):
                    break
                if not self._dirty:
                    yield None

        if self.processStatus != "success":
            blocked = [shortname(step.id) for step in self.steps if not step.submitted]
            if blocked:
                _logger.warning(
                    "[workflow %s] not run because a step they depend on failed: %s", self.name, ", ".join(blocked)
                )
        if not self.did_callback:
            self.do_output_callback(output_callback)

    def receive_output(
        self,
        step: WorkflowJobStep,
        outputparms: list[CWLObjectType],
        final_output_callback: OutputCallbackType,
        jobout: CWLObjectType,
        processStatus: str,
    ) -> None:
        """cwltool's, with a count of finished steps instead of a scan of all of them,
        and the steps that read this step's outputs marked to be looked at."""
        for i in outputparms:
            if "id" in i:
                iid = str(i["id"])
                if iid in jobout:
                    self.state[iid] = WorkflowStateItem(i, jobout[iid], processStatus)
                else:
                    _logger.error("[%s] Output is missing expected field %s", step.name, iid)
                    processStatus = "permanentFail"
                self._dirty.update(self._consumers.get(iid, ()))
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug("[%s] produced output %s", step.name, json_dumps(jobout, indent=4))

        if processStatus not in ("success", "skipped"):
            if self.processStatus != "permanentFail":
                self.processStatus = processStatus

            _logger.warning("[%s] completed %s", step.name, processStatus)
        else:
            _logger.info("[%s] completed %s", step.name, processStatus)

        step.completed = True
        # Release the iterable related to this step to reclaim memory.
        step.iterable = None
        self.made_progress = True
        self._counted.add(self._index[id(step)])
        if len(self._counted) == len(self.steps):
            self.do_output_callback(final_output_callback)

    _index: dict[int, int]
    _consumers: dict[str, list[int]]
    _dirty: set[int]
    _counted: set[int]


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

"""The tool factory (``LoadingContext.construct_tool_object``).

CommandLineTools and Workflows become ours; every other class (ExpressionTool,
Operation, ProcessGenerator) is cwltool's own: they run inside the leader and
need nothing of the scheduler.
"""

from __future__ import annotations

from cwltool.context import LoadingContext
from cwltool.process import Process
from cwltool.workflow import default_make_tool
from ruamel.yaml.comments import CommentedMap

from .tools import RunnerCommandLineTool
from .workflow import RunnerWorkflow


def make_tool(toolpath_object: CommentedMap, loadingContext: LoadingContext) -> Process:
    """Instantiate a CWL process with runner-cwl's classes where they matter."""
    match toolpath_object:
        case {"class": "CommandLineTool"}:
            return RunnerCommandLineTool(toolpath_object, loadingContext)
        case {"class": "Workflow"}:
            return RunnerWorkflow(toolpath_object, loadingContext)
    return default_make_tool(toolpath_object, loadingContext)

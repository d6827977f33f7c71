"""Embedding: run a CWL document from Python and get the output object back."""

from __future__ import annotations

import logging
import os
from typing import Any

from .errors import RunnerError


class WorkflowFailed(RunnerError):
    """The process ran but did not succeed."""


def run(
    process: str,
    inputs: dict[str, Any],
    outdir: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run the CWL document at ``process`` (path or URL) on ``inputs``.

    ``options`` are :class:`~cwl_runner.executor.Executor` arguments
    (``max_cores``, ``jobstore``, ...) and cwltool ``RuntimeContext`` fields
    (``use_container``, ``on_error``, ...). Raises :class:`WorkflowFailed`
    when the process does not succeed.
    """
    from cwltool.context import LoadingContext, RuntimeContext
    from cwltool.load_tool import load_tool
    from cwltool.utils import visit_class
    from schema_salad.ref_resolver import uri_file_path

    from .executor import Executor
    from .factory import make_tool

    executor_keys = {
        "jobstore",
        "keep_jobstore",
        "max_cores",
        "max_memory",
        "max_gpus",
        "batch_system",
        "use_worker_process",
        "slurm_args",
        "slurm_arrays",
        "slurm_batch_size",
        "clean",
        "restart",
        "retry_count",
        "max_system_retries",
        "inject_faults",
        "inject_faults_seed",
        "enforce_memory",
    }
    executor = Executor(**{k: v for k, v in options.items() if k in executor_keys})
    loading_context = LoadingContext()
    loading_context.construct_tool_object = make_tool
    runtime_context = RuntimeContext()
    runtime_context.outdir = os.path.abspath(outdir or os.getcwd())
    runtime_context.on_error = "continue"
    for key, value in options.items():
        if key in executor_keys:
            continue
        if not hasattr(runtime_context, key):
            raise TypeError(f"run() got an unknown option {key!r}")
        setattr(runtime_context, key, value)
    path = process if "://" in process else os.path.abspath(process)
    tool = load_tool(path, loading_context)
    # relative locations in ``inputs`` are relative to the caller's directory
    runtime_context.basedir = os.getcwd()
    output, status = executor(tool, dict(inputs), runtime_context, logger=logging.getLogger("cwltool"))
    if status != "success" or output is None:
        raise WorkflowFailed(f"{process}: {status}")

    def add_path(obj: dict[str, Any]) -> None:  # as cwltool's main does for its JSON
        if str(obj.get("location", "")).startswith("file://"):
            obj["path"] = uri_file_path(obj["location"])

    visit_class(output, ("File", "Directory"), add_path)
    return dict(output)

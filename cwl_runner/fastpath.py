"""The fast path: jobs of the simplest CommandLineTools, built without cwltool's
per-job machinery.

For every job cwltool deep-copies the input object, validates it against the
tool's input schema, builds a ``Builder``, binds every input, deep-copies and
sorts the bindings, makes a path mapper, and after the job globs, resolves,
checksums, re-walks and validates the outputs. For a scatter of ``echo`` that is
~2-3 ms of the leader's time per job, several times what spawning the process
costs. Most of it only depends on the tool, not on the job.

A tool is *planned* once (:func:`cwl_runner.plan.plan_for`, in ``plan.py``) when everything its jobs can vary in
is a plain value: no expression anywhere in the document, inputs of type
string/int/long/boolean (optionally null) bound with a literal position, prefix
and ``separate``, literal ``arguments``, outputs that are one literal file name
each (``stdout``, ``stderr``, or a ``File`` with a literal glob), and no
requirement beyond a short list whose effect is fixed per tool. Anything else is
left to cwltool, whole. A planned tool's jobs (:class:`FastJob`) are still
cwltool job objects (our :class:`~cwl_runner.tools.ScheduledJob` mixed into
cwltool's ``CommandLineJob``): the command line comes from the plan, the
environment from cwltool's own ``prepare_environment``, the resources from the
tool's ``evalResources``, and they are submitted, recorded and finished by the
same code as every other job. Per job, any value the plan does not cover (a
wrong type, a missing required input, an int out of range) sends that job down
cwltool's path, which reports it as cwltool does; so does any output that is not
one regular file where the plan expects it (missing, a link, a directory, or a
``cwl.output.json`` beside it): those outputs are collected by cwltool's own
``collect_output_ports``.

``RUNNER_CWL_FASTPATH=0`` turns the fast path off; ``RUNNER_CWL_FASTPATH=check``
builds every planned job both ways and fails the run on any difference in the
command line, environment, streams, resources, exit codes or collected outputs
(tests/test_fastpath.py runs the conformance tools that way).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import stat
from typing import TYPE_CHECKING, Any, cast

from cwltool.builder import Builder, content_limit_respected_read_bytes
from cwltool.command_line_tool import check_adjust
from cwltool.errors import WorkflowException
from cwltool.job import CommandLineJob
from cwltool.utils import normalizeFilesDirs
from schema_salad.exceptions import ValidationException
from schema_salad.ref_resolver import file_uri, uri_file_path
from schema_salad.utils import json_dumps

from .job import JobRecord, JobResult, flat_path
from .plan import INT_RANGE, RESULTS, Output, Plan
from .tools import ScheduledJob
from .workdirs import RunnerRuntimeContext
from .worker import sha1

if TYPE_CHECKING:
    from cwltool.context import RuntimeContext

    from .tools import RunnerCommandLineTool

_logger = logging.getLogger("cwltool")

MODE_ENV = "RUNNER_CWL_FASTPATH"

#: jobs this process built on the fast path (tests and --debug read it)
jobs_built = 0


def mode() -> str:
    """'on', 'off' or 'check' (``$RUNNER_CWL_FASTPATH``)."""
    value = os.environ.get(MODE_ENV, "1").strip().lower()
    if value in ("0", "off", "no", "false"):
        return "off"
    if value == "check":
        return "check"
    return "on"


class FastJob(ScheduledJob, CommandLineJob):
    """A job of a planned tool: cwltool's host job object, filled in from the plan
    instead of from a Builder; it runs and finishes as every scheduled job does."""

    tool_object: RunnerCommandLineTool
    plan: Plan
    runtime_context: RuntimeContext
    compute_checksum = True
    #: RUNNER_CWL_FASTPATH=check: compare the outputs with cwltool's collection
    checking = False

    #: the job's output and temporary directories are only named: the worker makes them
    named_dirs = False

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        #: the input files this job reads (cwltool's MutationManager), by location
        self.readers: dict[str, Any] = {}
        # cwltool's JobBase sets an instance attribute (the tool's collector, later): the
        # class's method below is used instead (a bound method stored on the job would be a
        # reference cycle, so every finished job would wait for the cyclic collector)
        del self.collect_outputs

    def collect_outputs(self, outdir: str, rcode: int) -> dict[str, Any]:  # type: ignore[override]
        return self.collect_fast(outdir, rcode)

    def fill_record(self, record: JobRecord, runtimeContext: RuntimeContext) -> None:
        """The work the leader need not do: making the job's directories, and looking
        at (and checksumming) its output files, which the worker does after the command;
        the temporary directory goes with them when every output was a regular file."""
        if self.named_dirs:
            record.make_dirs = [self.outdir, self.tmpdir]
        ports = self.plan.outputs
        # every file the outputs name (none for outputs that are all outputEvals of the
        # inputs: the worker then only looks for a cwl.output.json)
        record.collect = list(dict.fromkeys(p.glob for p in ports if p.glob is not None))
        record.checksums = self.compute_checksum
        if all(p.output_eval is None and p.glob is not None for p in ports):
            record.drop_tmpdir = bool(runtimeContext.rm_tmpdir) and not self.readers
            # nothing but the environment names the temporary directory: no binding
            # (literal), no outputEval; cwltool's --leave-tmpdir keeps each job's own
            record.recycle_tmpdir = record.drop_tmpdir and self.named_dirs
            record.flatten = (
                record.recycle_tmpdir
                and self.plan.flattenable
                and not self.checking  # (the check collects the output directory again)
                and not record.upload
                and _flat_outputs_allowed(runtimeContext)
            )

    def discard_dirs(self, result: JobResult, executor: Any) -> None:
        if self.stagedir is not None and (self.readers or self.pathmapper.files()):
            executor.discard(self.stagedir)  # otherwise only ever named
        if not result.tmpdir_removed:
            executor.discard(self.tmpdir)

    def _prepare_and_execute(self, runtimeContext: RuntimeContext, tmpdir_lock: Any) -> None:
        if self.readers or self.pathmapper.files():  # inputs to stage: cwltool's run
            super()._prepare_and_execute(runtimeContext, tmpdir_lock)
            return
        # what CommandLineJob.run and JobBase._setup do, for a job that stages
        # nothing and whose directories get_outdir/get_tmpdir just made
        self.base_path_logs = runtimeContext.set_log_dir(self.outdir, runtimeContext.log_dir, self.name)
        self._execute([], self.environment, runtimeContext)

    def _release(self) -> None:
        """As the end of cwltool's collect_output_ports: the job reads its inputs no more."""
        mutations = self.runtime_context.mutation_manager
        if mutations is not None:
            for f in self.readers.values():
                mutations.release_reader(self.name, f)
        self.readers = {}

    def collect_fast(self, outdir: str, rcode: int) -> dict[str, Any]:
        """The outputs, as cwltool's collect_output_ports gives them, when each file is
        one regular file where the plan says and each outputEval gives a value of its
        type; otherwise cwltool's own collection."""
        try:
            return self._collect_fast(outdir, rcode)
        finally:
            self._release()

    def _collect_fast(self, outdir: str, rcode: int) -> dict[str, Any]:
        #: each file the outputs name: its path, size and SHA-1 (None: not computed yet)
        found: dict[str, tuple[str, int, str | None]] = {}
        collected = self.result.collected if self.result is not None else None
        if collected is not None:  # the worker looked (JobRecord.collect)
            flat = self.result is not None and self.result.flattened
            for name, (size, digest) in collected.items():
                found[name] = (flat_path(outdir, name) if flat else os.path.join(outdir, name), size, digest)
        else:
            for port in self.plan.outputs:
                if port.glob is None or port.glob in found:
                    continue
                path = os.path.join(outdir, port.glob)
                try:
                    info = os.lstat(path)
                except OSError:
                    return self.collect_slow(outdir, rcode)
                if not stat.S_ISREG(info.st_mode):
                    return self.collect_slow(outdir, rcode)
                found[port.glob] = (path, info.st_size, None)
            if os.path.lexists(os.path.join(outdir, "cwl.output.json")):
                return self.collect_slow(outdir, rcode)
        outputs: dict[str, Any] = {}
        mutations = self.runtime_context.mutation_manager
        try:
            for port in self.plan.outputs:
                if port.output_eval is None:
                    assert port.glob is not None
                    obj = self._file(*found[port.glob], basename=os.path.basename(port.glob))
                    if mutations is not None:
                        mutations.set_generation(cast(Any, obj))
                    outputs[port.name] = obj
                    continue
                value = self._evaluate(port, found, rcode)
                if value is None and not port.optional:
                    return self.collect_slow(outdir, rcode)
                if value is not None and (type(value) is bool) != (port.kind == "boolean"):
                    return self.collect_slow(outdir, rcode)
                if value is not None and not isinstance(value, RESULTS[port.kind]):
                    return self.collect_slow(outdir, rcode)
                if port.kind == "int" and value is not None and not INT_RANGE[0] <= cast(int, value) <= INT_RANGE[1]:
                    return self.collect_slow(outdir, rcode)
                outputs[port.name] = value
        except (WorkflowException, OSError, UnicodeDecodeError):  # cwltool's collection says what
            return self.collect_slow(outdir, rcode)
        self.confined = True  # regular files directly in the (real) output directory
        return self._checked(outputs, outdir, rcode)

    def _checked(self, outputs: dict[str, Any], outdir: str, rcode: int) -> dict[str, Any]:
        """``outputs``; with RUNNER_CWL_FASTPATH=check, only when cwltool's collection agrees."""
        if self.checking:
            theirs = self.collect_slow(outdir, rcode)
            if outputs != theirs:
                raise WorkflowException(
                    f"fast path check: [job {self.name}] outputs differ: fast {json_dumps(outputs)} "
                    f"!= cwltool {json_dumps(theirs)}"
                )
        return outputs

    def _file(self, path: str, size: int, digest: str | None = None, basename: str | None = None) -> dict[str, Any]:
        """An output File as cwltool collects it; ``basename`` when ``path`` has another
        name (a flattened job's: ``job.flat_path``)."""
        basename = basename or os.path.basename(path)
        nameroot, nameext = os.path.splitext(basename)
        obj: dict[str, Any] = {
            "location": file_uri(path),
            "basename": basename,
            "nameroot": nameroot,
            "nameext": nameext,
            "class": "File",
        }
        if self.compute_checksum:
            obj["checksum"] = "sha1$" + (digest or sha1(path))
        obj["size"] = size
        return obj

    def _evaluate(self, port: Output, found: dict[str, tuple[str, int, str | None]], rcode: int) -> Any:
        """cwltool's collect_output for an outputEval: ``self`` is the globbed file as
        cwltool lists it (with its contents, checksum and size), evaluated by the
        job's Builder; one reference to an input is read from the inputs, as
        cwl_utils' regex_eval finds it."""
        value = _referenced(self.builder.job, port.reference) if port.reference is not None else _NOT_FOUND
        if value is _NOT_FOUND:
            value = self._do_eval(port, found, rcode)
        if port.optional and not value:  # as cwltool: an empty optional output is null
            return value if value in (0, "") else None
        return value

    def _do_eval(self, port: Output, found: dict[str, tuple[str, int, str | None]], rcode: int) -> Any:
        matches: list[dict[str, Any]] = []
        if port.glob is not None:
            path, size, digest = found[port.glob]
            basename = os.path.basename(port.glob)
            nameroot, nameext = os.path.splitext(basename)
            entry: dict[str, Any] = {
                "location": file_uri(path),
                "path": path,
                "basename": basename,
                "nameroot": nameroot,
                "nameext": nameext,
                "class": "File",
            }
            if port.load_contents:
                with open(path, "rb") as handle:
                    entry["contents"] = str(content_limit_respected_read_bytes(handle), "utf-8")
            if self.compute_checksum:
                entry["checksum"] = "sha1$" + (digest or sha1(path))
            entry["size"] = size
            matches.append(entry)
        builder = self.builder
        if self.plan.exit_code_in_runtime:
            builder.resources["exitCode"] = rcode
        return builder.do_eval(port.output_eval, context=matches)

    def collect_slow(self, outdir: str, rcode: int) -> dict[str, Any]:
        """cwltool's collect_output_ports, with a builder made for this job."""
        rc = self.runtime_context.copy()
        rc.outdir, rc.tmpdir, rc.stagedir = self.outdir, self.tmpdir, self.stagedir or ""
        tool = self.tool_object
        builder = tool._init_job(self.joborder, rc)
        builder.pathmapper = tool.make_path_mapper(builder.files, builder.stagedir, rc, True)
        return tool.collect_output_ports(  # type: ignore[no-any-return]
            tool.tool["outputs"], builder, outdir, rcode, compute_checksum=self.compute_checksum, jobname=self.name
        )


_NOT_FOUND = object()


def _referenced(inputs: Any, keys: tuple[str, ...]) -> Any:
    """``inputs[k1][k2]...``, or _NOT_FOUND where a key is missing or a value is no
    mapping (cwl_utils then says what is wrong, or its JavaScript engine finds it)."""
    value = inputs
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return _NOT_FOUND
        value = value[key]
    return value


def make_job(
    tool: RunnerCommandLineTool,
    plan: Plan,
    job_order: Any,
    output_callbacks: Any,
    rc: RuntimeContext,
) -> FastJob | None:
    """A planned tool's job for ``job_order``, or None (cwltool's path)."""
    values = plan.values(job_order)
    if values is None:
        return None
    files = plan.files(values)
    if files:  # as _init_job: basename, nameroot, nameext; sizes (best effort)
        try:
            normalizeFilesDirs(files)
        except ValidationException:
            return None
        for f in files:
            if "size" not in f:
                try:
                    f["size"] = os.stat(uri_file_path(f["location"])).st_size
                except OSError:
                    pass
    from cwltool import process

    name = process.uniquename(rc.name or process.shortname(tool.tool.get("id", "job")))
    named = None
    if not files and isinstance(rc, RunnerRuntimeContext):
        named = rc.job_dir_names()  # made by the worker (JobRecord.make_dirs)
    made = named or (rc.job_dirs() if isinstance(rc, RunnerRuntimeContext) else None)
    if made is None:  # as cwltool's _init_job
        fs_access = rc.make_fs_access(rc.basedir)
        made = (
            fs_access.realpath(rc.get_outdir()),
            fs_access.realpath(rc.get_tmpdir()),
            fs_access.realpath(rc.get_stagedir()),
        )
    outdir, tmpdir, stagedir = made
    if plan.resources is None or rc.select_resources is not None:
        resources = tool.evalResources(None, rc)  # type: ignore[arg-type] # literal values only
        if rc.select_resources is None:
            plan.resources = resources
    else:
        resources = plan.resources
    job_inputs = {**job_order, **values}  # as _init_job's copy, defaults filled in
    make_fs_access = rc.make_fs_access
    builder = Builder(
        job_inputs,
        cast(Any, files),
        [],
        tool.schemaDefs,
        tool.names,
        tool.requirements,
        tool.hints,
        dict(resources),
        rc.mutation_manager,
        tool.formatgraph,
        make_fs_access,
        make_fs_access(rc.basedir),
        rc.job_script_provider,
        rc.eval_timeout,
        rc.debug,
        rc.js_console,
        rc.force_docker_pull,
        cast(Any, plan.load_listing),
        outdir,
        tmpdir,
        stagedir,
        plan.cwl_version,
        tool.container_engine,
    )
    job = FastJob(
        builder,
        job_inputs,
        tool.make_path_mapper,
        tool.requirements,
        tool.hints,
        name,
    )
    job.tool_object = tool
    job.plan = plan
    job.named_dirs = named is not None
    job.runtime_context = rc
    job.compute_checksum = rc.compute_checksum is not False
    job.prov_obj = tool.prov_obj
    job.successCodes = plan.success_codes
    job.temporaryFailCodes = plan.temporary_fail_codes
    job.permanentFailCodes = plan.permanent_fail_codes
    job.stdout, job.stderr = plan.stdout, plan.stderr
    job.outdir, job.tmpdir, job.stagedir = outdir, tmpdir, stagedir
    job.timelimit = plan.timelimit
    job.networkaccess = plan.networkaccess
    job.prepare_environment(rc, plan.env)
    job.command_line = plan.argv(values) if not files else []
    job.output_callback = output_callbacks
    if files:
        # as CommandLineTool.job: the inputs' staged paths (cwltool's PathMapper, which
        # CommandLineJob.run then stages), and the job as a reader of each input
        mapper = tool.make_path_mapper(cast(Any, copy.deepcopy(files)), stagedir, rc, True)
        builder.pathmapper = job.pathmapper = mapper
        try:
            for f in files:
                check_adjust(tool.path_check_mode.value, builder, cast(Any, f))
        except WorkflowException:
            return None
        job.command_line = plan.argv(values)
        mutations = rc.mutation_manager
        if mutations is not None:
            bound = {i.name for i in plan.inputs if i.bound}
            # cwltool registers the files of the builder, then those of the bindings
            for f in [
                *files,
                *(
                    values[i.name]
                    for i in plan.inputs
                    if i.kind == "File" and i.name in bound and values[i.name] is not None
                ),
            ]:
                mutations.register_reader(name, cast(Any, f))
                job.readers[f["location"]] = copy.deepcopy(f)
    global jobs_built
    jobs_built += 1
    return job


def _flat_outputs_allowed(rc: RuntimeContext) -> bool:
    """Whether a job's output files may live outside its output directory
    (``JobRecord.flatten``): only when job directories are in the job store and
    nothing but the outputs' locations looks for them there later (no --cachedir,
    which keeps a job's whole directory; no --log-dir, into which cwltool moves the
    streams from the directory; no --provenance)."""
    executor = getattr(rc, "runner_executor", None)
    return executor is not None and executor.flat_outputs_allowed and not rc.log_dir and rc.research_obj is None


def check(fast: FastJob, slow: Any, rc: RuntimeContext) -> None:
    """RUNNER_CWL_FASTPATH=check: fail unless cwltool built the same job."""
    diffs = compare(fast, slow)
    executor = getattr(rc, "runner_executor", None)
    for path in (slow.outdir, slow.tmpdir):
        if executor is not None and path != fast.outdir:
            executor.discard(path)
    if diffs:
        raise WorkflowException(f"fast path check: [job {fast.name}] " + "; ".join(diffs))
    fast.checking = True


def compare(fast: FastJob, slow: Any) -> list[str]:
    """What differs between a planned job and cwltool's job for the same inputs."""
    diffs = []

    def same(what: str, a: Any, b: Any) -> None:
        if a != b:
            diffs.append(f"{what}: fast {json.dumps(a, default=str)} != cwltool {json.dumps(b, default=str)}")

    def named(job: Any, value: Any) -> Any:
        """The two jobs have their own directories, and cwltool stages each input in
        a folder with a random name: name those by what they are."""
        text = json.dumps(value, default=str)
        places = [(e.target, f"$INPUT<{loc}>") for loc, e in job.pathmapper.items() if e.target]
        places += [(job.outdir, "$OUTDIR"), (job.tmpdir, "$TMPDIR"), (job.stagedir or "", "$STAGEDIR")]
        for path, name in sorted(places, key=lambda p: -len(p[0])):
            if path:
                text = text.replace(path, name)
        return json.loads(text)

    same("command line", named(fast, fast.command_line), named(slow, [str(a) for a in slow.command_line]))
    same("environment", named(fast, dict(fast.environment)), named(slow, dict(slow.environment)))
    same(
        "staged inputs",
        sorted(named(fast, [(loc, e.target, e.type, e.staged) for loc, e in fast.pathmapper.items()])),
        sorted(named(slow, [(loc, e.target, e.type, e.staged) for loc, e in slow.pathmapper.items()])),
    )
    same("streams", [fast.stdin, fast.stdout, fast.stderr], [slow.stdin, slow.stdout, slow.stderr])
    same("resources", fast._resources(), slow._resources())
    same("timelimit", fast.timelimit, slow.timelimit)
    same(
        "exit codes",
        [list(fast.successCodes), list(fast.temporaryFailCodes), list(fast.permanentFailCodes)],
        [list(slow.successCodes), list(slow.temporaryFailCodes), list(slow.permanentFailCodes)],
    )
    return diffs

"""Planning a tool for the fast path (``fastpath.py``): what every job of a tool shares.

A tool is *planned* once (:func:`plan_for`) when everything its jobs can vary in is a
plain value: no expression anywhere in the document but ``outputEval``, inputs of
type string/int/long/boolean (optionally null) or local Files, bound with a literal
position, prefix and ``separate``, literal ``arguments``, outputs that are one literal
file name each (``stdout``, ``stderr``, or a ``File`` with a literal glob) or a scalar
from ``outputEval``, and no requirement beyond a short list whose effect is fixed per
tool. :class:`Plan` holds the command line in cwltool's binding order, the streams,
the environment, the resources and the outputs; :func:`usable` says whether a run
lets planned jobs take the fast path. The jobs themselves are ``fastpath.FastJob``.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from cwltool.process import ORIGINAL_CWLVERSION
from cwltool.utils import aslist, cmp_like_py2
from schema_salad.utils import json_dumps

if TYPE_CHECKING:
    from cwltool.context import RuntimeContext

    from .tools import RunnerCommandLineTool

_logger = logging.getLogger("cwltool")

#: requirements (and hints) whose effect on a job is fixed per tool, or nil for a
#: job that stages nothing (a DockerRequirement is planned, but its jobs go to
#: cwltool: see :func:`usable`)
_ALLOWED = {
    "InlineJavascriptRequirement",
    "ScatterFeatureRequirement",
    "SubworkflowFeatureRequirement",
    "StepInputExpressionRequirement",
    "MultipleInputFeatureRequirement",
    "ResourceRequirement",
    "EnvVarRequirement",
    "NetworkAccess",
    "WorkReuse",
    "ToolTimeLimit",
    "LoadListingRequirement",
    "DockerRequirement",
    "SoftwareRequirement",
}
_SCALARS: dict[str, type] = {"string": str, "int": int, "long": int, "boolean": bool}
#: what an outputEval's result may be, per declared type, to pass cwltool's validation
RESULTS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "long": (int,),
    "boolean": (bool,),
    "float": (int, float),
    "double": (int, float),
}
INT_RANGE: tuple[int, int] = (-(2**31), 2**31 - 1)  # what cwltool's validation accepts for "int"
_GLOB_CHARS = set("*?[]{}\\/")
#: the fields of a planned tool (besides namespaced metadata such as schema.org's)
_TOOL_FIELDS = {
    "class",
    "id",
    "inputs",
    "outputs",
    "baseCommand",
    "arguments",
    "stdout",
    "stderr",
    "requirements",
    "hints",
    "successCodes",
    "temporaryFailCodes",
    "permanentFailCodes",
    "cwlVersion",
    "doc",
    "label",
    "intent",
    "http://commonwl.org/cwltool#original_cwlVersion",
}
_CWLTOOL_NS = "http://commonwl.org/cwltool#"


@dataclass
class _Input:
    name: str
    kind: str  # string, int, long, boolean, File
    optional: bool
    has_default: bool = False
    default: Any = None
    bound: bool = False
    prefix: str | None = None
    separate: bool = True

    def value(self, job_order: Any) -> tuple[bool, Any]:
        """(ok, the value a job binds): not ok when cwltool must judge the value."""
        v: Any = job_order.get(self.name)
        if v is None:
            if self.has_default:
                v = self.default
            elif self.optional:
                return True, None
            else:
                return False, None
        if self.kind == "File":
            return _plain_file(v)
        if type(v) is not _SCALARS[self.kind]:
            return False, None
        if self.kind == "int" and not INT_RANGE[0] <= cast(int, v) <= INT_RANGE[1]:
            return False, None
        return True, v


#: the fields of a File input the fast path takes (no secondaryFiles, contents, format)
_FILE_FIELDS = {
    "class",
    "location",
    "path",
    "basename",
    "dirname",
    "nameroot",
    "nameext",
    "checksum",
    "size",
    "http://commonwl.org/cwltool#generation",
}
_FILE_STRINGS = ("location", "path", "basename", "dirname", "nameroot", "nameext", "checksum")


def _plain_file(v: Any) -> tuple[bool, Any]:
    """A File input given by a local location and plain fields: a copy of it (cwltool
    copies the job order); anything else is cwltool's to stage or to refuse."""
    if type(v) is not dict or v.get("class") != "File" or not set(v) <= _FILE_FIELDS:
        return False, None
    location = v.get("location")
    if not isinstance(location, str) or not location.startswith("file:///"):
        return False, None
    if any(k in v and type(v[k]) is not str for k in _FILE_STRINGS):
        return False, None
    if "size" in v and type(v["size"]) is not int:
        return False, None
    return True, dict(v)


@dataclass
class Output:
    name: str
    #: one literal file name (a File output's, or the file an outputEval reads)
    glob: str | None
    #: a scalar output computed by cwltool's expression evaluation from ``self``
    #: (the globbed file, with its contents when ``load_contents``)
    output_eval: str | None = None
    kind: str = "File"  # or one of RESULTS
    optional: bool = False
    load_contents: bool = False
    #: for an outputEval that is one parameter reference to an input, ``$(inputs.a.b)``,
    #: the keys to follow from the job's inputs (what cwl_utils' evaluation gives)
    reference: tuple[str, ...] | None = None


@dataclass
class Plan:
    """What every job of one tool shares."""

    inputs: list[_Input]
    #: the command line in cwltool's order: a literal string, or the input bound there
    order: list[str | _Input]
    outputs: list[Output]
    stdout: str | None
    stderr: str | None
    env: dict[str, str]
    timelimit: int | None
    networkaccess: bool
    docker: bool
    software: bool
    success_codes: list[int] = field(default_factory=list)
    temporary_fail_codes: list[int] = field(default_factory=list)
    permanent_fail_codes: list[int] = field(default_factory=list)
    resources: dict[str, Any] | None = None
    #: CWL v1.1 and later give outputEval the exit code as runtime.exitCode
    exit_code_in_runtime: bool = True
    cwl_version: str = ""
    load_listing: str = "no_listing"
    requirements_key: tuple[int, int, int, int] = (0, 0, 0, 0)

    @functools.cached_property
    def flattenable(self) -> bool:
        """Whether its jobs' output files can be kept flat (``JobRecord.flatten``): each
        output is a file by a literal name with no ``/`` and no outputEval, and exit
        code 0 is a success (as ``ScheduledJob.finish`` judges it)."""
        names_ok = all(
            p.output_eval is None and p.glob is not None and "/" not in p.glob and p.glob not in ("", ".", "..")
            for p in self.outputs
        )
        zero_succeeds = 0 in self.success_codes or (
            0 not in self.temporary_fail_codes and 0 not in self.permanent_fail_codes
        )
        return names_ok and zero_succeeds

    def values(self, job_order: Any) -> dict[str, Any] | None:
        """The job's input values (defaults filled in), or None (cwltool's path)."""
        values: dict[str, Any] = {}
        for inp in self.inputs:
            ok, v = inp.value(job_order)
            if not ok:
                return None
            values[inp.name] = v
        return values

    def files(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        """The File inputs among ``values``, in the order of the inputs."""
        return [values[i.name] for i in self.inputs if i.kind == "File" and values[i.name] is not None]

    def command_line(self, job_order: Any) -> tuple[list[str], dict[str, Any]] | None:
        """The job's command line and its input values, or None (cwltool's path).
        File inputs must have their ``path`` (see :func:`make_job`)."""
        values = self.values(job_order)
        if values is None:
            return None
        return self.argv(values), values

    def argv(self, values: dict[str, Any]) -> list[str]:
        argv: list[str] = []
        for part in self.order:
            if isinstance(part, str):
                argv.append(part)
                continue
            v = values[part.name]
            if v is None or v is False:
                continue
            if v is True:
                if part.prefix:
                    argv.append(part.prefix)
                continue
            text = str(v["path"]) if part.kind == "File" else str(v)
            if part.separate:
                if part.prefix is not None:
                    argv.append(part.prefix)
                argv.append(text)
            else:
                argv.append(f"{part.prefix}{text}")
        return argv


def _shortname(ident: str) -> str:
    return ident.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _no_expressions(document: Any) -> bool:
    text = json_dumps(document)
    return "$(" not in text and "${" not in text


def _literal_name(name: Any) -> bool:
    return (
        isinstance(name, str)
        and bool(name)
        and not os.path.isabs(name)
        and ".." not in name
        and not (_GLOB_CHARS & set(name))
        and name not in (".", "cwl.output.json")
    )


def plan_for(tool: RunnerCommandLineTool) -> Plan | None:
    """The plan of ``tool``'s jobs, or None when cwltool must build them."""
    try:
        return _plan(tool)
    except (KeyError, TypeError, ValueError, AttributeError) as err:  # an unusual document
        _logger.debug("fast path: %s not planned (%s)", tool.tool.get("id"), err)
        return None


def requirements_key(tool: RunnerCommandLineTool) -> tuple[int, int, int, int]:
    """Which requirement and hint lists a plan was made from: cwltool appends an input
    object's ``cwl:requirements`` to a tool after it was made, and drops hints."""
    return (id(tool.requirements), len(tool.requirements), id(tool.hints), len(tool.hints))


def _plan(tool: RunnerCommandLineTool) -> Plan | None:
    doc = tool.tool
    # inherited and added requirements are not in the document
    # expressions only in outputEval (evaluated by cwltool's code, per job)
    rest = {k: v for k, v in doc.items() if k != "outputs"}
    ports = [
        {**p, "outputBinding": {k: v for k, v in (p.get("outputBinding") or {}).items() if k != "outputEval"}}
        for p in doc["outputs"]
    ]
    if not _no_expressions([rest, ports]) or not _no_expressions([tool.requirements, tool.hints]):
        return None
    for req in [*tool.requirements, *tool.hints]:
        if req.get("class") not in _ALLOWED:
            return None
    for key in doc:  # a field we do not know of is cwltool's to interpret
        if key not in _TOOL_FIELDS and (":" not in key or key.startswith(_CWLTOOL_NS)):
            return None
    inputs: list[_Input] = []
    bindings: list[dict[str, Any]] = []
    for param in doc["inputs"]:
        types = aslist(param["type"])
        optional = "null" in types
        kinds = [t for t in types if t != "null"]
        if len(kinds) != 1 or (kinds[0] not in _SCALARS and kinds[0] != "File"):
            return None
        if set(param) - {"id", "type", "inputBinding", "default", "doc", "label"}:
            return None
        if kinds[0] == "File" and "default" in param:
            return None  # (a default File is resolved against the document: cwltool's)
        inp = _Input(_shortname(param["id"]), kinds[0], optional)
        if "default" in param:
            default = param["default"]
            if default is not None and type(default) is not _SCALARS[inp.kind]:
                return None
            inp.has_default, inp.default = True, default
        binding = param.get("inputBinding")
        if binding is not None:
            if set(binding) - {"position", "prefix", "separate"}:
                return None
            position = binding.get("position", 0)
            prefix = binding.get("prefix")
            separate = binding.get("separate", True)
            if type(position) is not int or (prefix is not None and not isinstance(prefix, str)):
                return None
            if not isinstance(separate, bool) or (prefix is None and not separate):
                return None
            inp.bound, inp.prefix, inp.separate = True, prefix, separate
            bindings.append({"position": [position, inp.name], "part": inp})
        inputs.append(inp)
    for index, command in enumerate(aslist(doc.get("baseCommand", []))):
        if not isinstance(command, str):
            return None
        bindings.append({"position": [-1000000, index], "part": command})
    for index, arg in enumerate(doc.get("arguments", [])):
        if not isinstance(arg, str):
            return None
        bindings.append({"position": [0, index], "part": arg})
    bindings.sort(key=functools.cmp_to_key(cmp_like_py2))
    outputs: list[Output] = []
    for port in doc["outputs"]:
        if set(port) - {"id", "type", "outputBinding", "doc", "label"}:
            return None
        binding = port.get("outputBinding") or {}
        glob = binding.get("glob")
        if glob is not None and not _literal_name(glob):
            return None
        if port.get("type") == "File":
            if set(binding) != {"glob"}:
                return None
            outputs.append(Output(_shortname(port["id"]), glob))
            continue
        types = aslist(port.get("type"))
        kinds = [t for t in types if t != "null"]
        evaluated = binding.get("outputEval")
        if len(kinds) != 1 or kinds[0] not in RESULTS or not isinstance(evaluated, str):
            return None
        if set(binding) - {"glob", "loadContents", "outputEval"} or binding.get("loadContents") not in (
            None,
            True,
            False,
        ):
            return None
        outputs.append(
            Output(
                _shortname(port["id"]),
                glob,
                output_eval=evaluated,
                kind=kinds[0],
                optional="null" in types,
                load_contents=bool(binding.get("loadContents")) and glob is not None,
                reference=_input_reference(evaluated),
            )
        )
    streams = {}
    for stream in ("stdout", "stderr"):
        name = doc.get(stream)
        if name is not None and not _literal_name(name):
            return None
        streams[stream] = name
    docker = any(r["class"] == "DockerRequirement" for r in [*tool.requirements, *tool.hints])
    software = any(r["class"] == "SoftwareRequirement" for r in [*tool.requirements, *tool.hints])
    env: dict[str, str] = {}
    evr: Any = tool.get_requirement("EnvVarRequirement")[0]
    if evr is not None:
        env = {e["envName"]: e["envValue"] for e in evr["envDef"]}
        if not all(isinstance(v, str) for v in env.values()):
            return None
    limit: Any = tool.get_requirement("ToolTimeLimit")[0]
    timelimit = limit["timelimit"] if limit is not None else None
    if timelimit is not None and (type(timelimit) is not int or timelimit < 0):
        return None  # cwltool's error
    listing: Any = tool.get_requirement("LoadListingRequirement")[0]
    access: Any = tool.get_requirement("NetworkAccess")[0]
    networkaccess = access["networkAccess"] if access is not None else False
    if not isinstance(networkaccess, bool):
        return None
    return Plan(
        inputs=inputs,
        order=[b["part"] for b in bindings],
        outputs=outputs,
        stdout=streams["stdout"],
        stderr=streams["stderr"],
        env=env,
        timelimit=timelimit,
        networkaccess=networkaccess,
        docker=docker,
        software=software,
        success_codes=list(doc.get("successCodes", [])),
        temporary_fail_codes=list(doc.get("temporaryFailCodes", [])),
        permanent_fail_codes=list(doc.get("permanentFailCodes", [])),
        requirements_key=requirements_key(tool),
        exit_code_in_runtime=tool.metadata.get(ORIGINAL_CWLVERSION) != "v1.0",
        cwl_version=str(tool.metadata.get(ORIGINAL_CWLVERSION) or ""),
        load_listing=listing["loadListing"] if listing is not None else "no_listing",
    )


def usable(plan: Plan, rc: RuntimeContext) -> bool:
    """Whether this run lets a planned tool's jobs take the fast path."""
    if rc.research_obj is not None or rc.builder is not None or rc.cachedir:
        return False
    # DockerRequirement: a container, or (required, with --no-container) cwltool's
    # "unsupported requirement" from make_job_runner
    if plan.docker or (rc.use_container and rc.default_container):
        return False
    # SoftwareRequirement means nothing without dependency resolvers (cwltool's too)
    if plan.software and rc.job_script_provider is not None:
        return False
    return True


_REFERENCE = re.compile(r"\$\(inputs((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\)")


def _input_reference(expression: str) -> tuple[str, ...] | None:
    """The keys of ``$(inputs.a.b)`` (the whole expression, nothing around it)."""
    match = _REFERENCE.fullmatch(expression)
    return tuple(match.group(1)[1:].split(".")) if match else None

"""Checks made before any job starts: does the container engine answer, are
the images there (or can they be pulled)? A run that would fail on its 500th
job for want of an image fails now, with one line that says why.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from cwltool.context import RuntimeContext, getdefault
from cwltool.errors import UnsupportedRequirement, WorkflowException
from cwltool.process import INPUT_OBJ_VOCAB, Process, _logger_validation_warnings, fill_in_defaults, normalizeFilesDirs
from cwltool.stdfsaccess import StdFsAccess
from cwltool.utils import visit_class
from ruamel.yaml.comments import CommentedMap
from schema_salad.exceptions import ValidationException
from schema_salad.ref_resolver import uri_file_path
from schema_salad.validate import validate_ex

_logger = logging.getLogger("cwltool")


@dataclass
class ImageNeed:
    image: str
    required: bool  # under requirements (else a hint)
    where: str  # the document that names it


def images_needed(process: Process) -> list[ImageNeed]:
    """Every pullable image named by the process and the tools it runs."""
    found: dict[str, ImageNeed] = {}

    def visit(tool: dict) -> None:  # type: ignore[type-arg]
        for key, required in (("requirements", True), ("hints", False)):
            for req in tool.get(key) or []:
                if not isinstance(req, dict) or req.get("class") != "DockerRequirement":
                    continue
                if any(k in req for k in ("dockerFile", "dockerLoad", "dockerImport")):
                    continue  # built or loaded when the job runs
                image = req.get("dockerPull") or req.get("dockerImageId")
                if isinstance(image, str) and (image not in found or required):
                    found[image] = ImageNeed(image, required, str(tool.get("id", "")))

    process.visit(visit)
    return list(found.values())


def validate_inputs(process: Process, job_order: Any, runtime_context: RuntimeContext) -> Any:
    """Validate the input object as cwltool's ``_init_job`` will, keeping file:line in
    errors, and return it as plain dicts, lists and scalars.

    cwltool deep-copies inputs for every job; copies of ruamel's commented
    containers cost far more than plain ones (a 1000-way scatter ran twice as long).
    """
    # cwltool's main hands us a ruamel object of its own: checked in place (a deep copy
    # of ruamel containers costs seconds for a few thousand items); anything else
    # (embedding callers' dicts) is copied first so that theirs stay untouched
    job = job_order if isinstance(job_order, CommentedMap) else plain(job_order)
    fs_access = getdefault(runtime_context.make_fs_access, StdFsAccess)(runtime_context.basedir)
    try:
        fill_in_defaults(process.tool["inputs"], job, fs_access)
        normalizeFilesDirs(job)
        schema = process.names.get_name("input_record_schema", None)
        if schema is not None:
            validate_ex(schema, job, strict=False, logger=_logger_validation_warnings, vocab=INPUT_OBJ_VOCAB)
    except ValidationException as err:
        # cwltool's main reports it as "Input object failed validation", one line with ours
        raise ValidationException(str(err)) from err
    return plain(job)


def plain(obj: Any) -> Any:
    """``obj`` with ruamel's commented containers replaced by plain dicts and lists.

    Numbers stay as they are: ruamel's remember how they were written (``0.00001``
    stays ``0.00001`` on a command line, not ``1e-05``). Strings become plain ``str``:
    ruamel's quoted-string subclasses say nothing more, and every job's deep copy of
    its inputs would rebuild each one through ``__reduce_ex__`` instead of sharing it.
    """
    if isinstance(obj, dict):
        return {key: plain(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [plain(value) for value in obj]
    if isinstance(obj, str) and type(obj) is not str:
        return str(obj)
    return obj


def check_inputs(job_order: Any) -> None:
    """Every local File and Directory in the input object exists (cwltool checks
    a tool's inputs up front, but a workflow's only when a step stages them)."""
    from . import remote

    missing: list[str] = []

    def visit(obj: dict[str, Any]) -> None:
        _check_shape(obj)
        location = obj.get("location")
        # literals ("_:" ids, contents/listing) are not files
        if isinstance(location, str) and location.startswith("file://"):
            path = uri_file_path(location)
            if not os.path.exists(path):
                missing.append(path)
        elif isinstance(location, str) and remote.is_remote(location):
            try:
                remote.check(location)
            except remote.RemoteError as err:
                raise ValidationException(f"input {err}") from None
        for secondary in obj.get("secondaryFiles") or []:
            if isinstance(secondary, dict):
                visit(secondary)

    visit_class(job_order, ("File", "Directory"), visit)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ValidationException(f"input {'file' if len(missing) == 1 else 'files'} not found: {missing[0]}{more}")


def check_job_file(path: str) -> None:
    """The File and Directory objects of a job file have the field types CWL gives them.

    Run before cwltool reads the file: cwltool walks these objects (sizes, listings)
    before validating them, and a ``location: {}`` would crash it. A file that does
    not parse is left to cwltool, which says where.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except OSError:
        return
    try:  # a JSON job file (YAML's subset) reads far faster as JSON
        document = json.loads(text)
    except ValueError:
        try:
            document = YAML(typ="safe", pure=True).load(text)
        except (YAMLError, ValueError):
            return
    visit_class(document, ("File", "Directory"), _check_tree)


def _check_tree(obj: dict[str, Any]) -> None:
    _check_shape(obj)
    for key in ("secondaryFiles", "listing"):
        for child in obj.get(key) or []:
            _check_tree(child)


class CheckedFsAccess(StdFsAccess):
    """cwltool's file access for reading the input object: a location that is not a
    string (``location: [1]``) is a validation error, not a crash."""

    def _abs(self, p: str) -> str:
        if not isinstance(p, str):
            raise ValidationException(f"a File or Directory location must be a string, not {type(p).__name__}")
        try:
            os.fsencode(p)
        except UnicodeEncodeError:  # e.g. a lone surrogate (YAML's "\ud800" escapes)
            raise ValidationException(f"a File or Directory location is not a file name: {ascii(p)}") from None
        return super()._abs(p)


_STRINGS = ("location", "path", "basename", "contents", "format", "dirname", "nameroot", "nameext", "checksum")


def _check_shape(obj: dict[str, Any]) -> None:
    """A File or Directory object whose fields have the types CWL gives them."""
    cls = obj.get("class")
    name = obj.get("location") or obj.get("path") or obj.get("basename") or "(unnamed)"
    for key in _STRINGS:
        if key in obj and not isinstance(obj[key], str):
            raise ValidationException(
                f"input {cls} {name!s:.80}: {key} must be a string, not {type(obj[key]).__name__}"
            )
    for key in ("secondaryFiles", "listing"):
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(
            isinstance(v, dict) and v.get("class") in ("File", "Directory") for v in value
        ):
            raise ValidationException(f"input {cls} {name!s:.80}: {key} must be a list of File or Directory objects")
    if "size" in obj and (not isinstance(obj["size"], int) or isinstance(obj["size"], bool)):
        raise ValidationException(f"input {cls} {name!s:.80}: size must be a whole number")


def engine_command(runtime_context: RuntimeContext) -> str | None:
    if runtime_context.singularity:
        return None  # images are converted per job by cwltool; nothing cheap to check
    if runtime_context.user_space_docker_cmd:
        return None
    return "podman" if runtime_context.podman else "docker"


def check(process: Process, runtime_context: RuntimeContext) -> None:
    """Raise a clear error if a container the run needs is not available."""
    if not runtime_context.use_container:
        return
    needs = images_needed(process)
    if runtime_context.default_container:
        needs.append(ImageNeed(runtime_context.default_container, False, "--default-container"))
    engine = engine_command(runtime_context)
    if not needs or engine is None:
        return
    required = any(n.required for n in needs)
    error = UnsupportedRequirement if required else WorkflowException
    if shutil.which(engine) is None:
        raise error(f"this workflow needs containers but '{engine}' is not installed (or use --no-container)")
    probe = _run([engine, "version", "--format", "{{.Server.Version}}"], 30)
    if probe.returncode != 0:
        detail = _last_line(probe.stderr) or "no answer"
        raise error(f"the {engine} engine does not answer: {detail} (is it running? is DOCKER_HOST right?)")
    for need in needs:
        if not runtime_context.force_docker_pull and _run([engine, "image", "inspect", need.image], 60).returncode == 0:
            continue
        if not runtime_context.pull_image:
            raise (UnsupportedRequirement if need.required else WorkflowException)(
                f"container image '{need.image}' is not present and --disable-pull is set"
            )
        _logger.info("Pulling container image %s", need.image)
        pulled = _run([engine, "pull", need.image], 3600)
        if pulled.returncode != 0:
            message = (
                f"container image '{need.image}' (named in {need.where or 'the workflow'}) is not present "
                f"and cannot be pulled: {_last_line(pulled.stderr) or 'pull failed'}"
            )
            raise (UnsupportedRequirement if need.required else WorkflowException)(message)


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", f"{' '.join(argv[:2])} timed out after {timeout:g} s")
    except OSError as err:
        return subprocess.CompletedProcess(argv, 127, "", str(err))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""

"""Drop-in replacements for cwltool internals that are quadratic in the number of jobs
(or needlessly slow per job).

Each keeps cwltool's behaviour exactly (same results, same order) and changes only
its cost; :func:`apply` installs them once. They exist because a 10,000-way scatter
must not take 10,000² steps, and each names the cwltool function it replaces so
that a cwltool upgrade can be checked against it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Container
from typing import Any

_applied = False


def apply() -> None:
    """Install the replacements (idempotent)."""
    global _applied
    if _applied:
        return
    import cwltool.command_line_tool
    import cwltool.process
    import cwltool.workflow_job

    global _names, _original_uniquename
    _names = cwltool.process._names
    _original_uniquename = cwltool.process.uniquename
    for module in (cwltool.process, cwltool.command_line_tool, cwltool.workflow_job):
        module.uniquename = uniquename  # type: ignore[attr-defined]
    cwltool.workflow_job.parallel_steps = parallel_steps
    _install_shortname()
    _install_base_names()
    import cwltool.workflow

    global _original_load_tool
    _original_load_tool = cwltool.workflow.load_tool
    cwltool.workflow.load_tool = load_step_tool  # type: ignore[assignment]
    cwltool.workflow.circular_dependency_checker = circular_dependency_checker
    import cwltool.job

    global _original_stage_files
    _original_stage_files = cwltool.process.stage_files
    cwltool.process.stage_files = stage_files
    cwltool.job.stage_files = stage_files  # type: ignore[attr-defined]
    cwltool.process.shutil = _RelocatingShutil()  # type: ignore[assignment]
    cwltool.process.os = _ProcessOs()  # type: ignore[assignment]
    import copy

    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    copy._deepcopy_dispatch[CommentedMap] = _copy_commented_map  # type: ignore[attr-defined]
    copy._deepcopy_dispatch[CommentedSeq] = _copy_commented_seq  # type: ignore[attr-defined]
    _install_visitors()
    _install_final_output()
    from . import joborder, relocate

    relocate.install()
    joborder.install()
    _applied = True


# -- cwltool.main's final output object ------------------------------------------------
# cwltool prints it with json.dump and an indent: Python's encoder then writes each
# token to the stream on its own (28 writes per output File: 280,000 for a
# 10,000-way scatter's), and it gives each File its path with schema-salad's
# uri_file_path (a URL parse, 15 us). The same text in one write, and the same paths.


def json_dump(obj: Any, fp: Any, **kwargs: Any) -> None:
    """schema_salad.utils.json_dump, written at once."""
    from schema_salad.utils import json_dumps

    fp.write(json_dumps(obj, **kwargs))


def _install_final_output() -> None:
    import cwltool.main

    from .relocate import _path

    cwltool.main.json_dump = json_dump  # type: ignore[attr-defined]
    cwltool.main.uri_file_path = _path  # type: ignore[assignment]


# -- cwltool.process.shortname ------------------------------------------------------
# A pure function of an identifier, asked several times per job (each step input and
# output, each scatter item) and parsing a URL each time: the same few names, cached.


def _install_shortname() -> None:
    import functools
    import sys

    import cwltool.process

    original = cwltool.process.shortname
    remembered = functools.lru_cache(maxsize=8192)(original)

    def shortname(inputid: str) -> str:
        try:
            return remembered(inputid)
        except TypeError:  # not hashable: as cwltool would have it
            return original(inputid)

    for name, module in list(sys.modules.items()):
        if (name == "cwltool" or name.startswith("cwltool.")) and getattr(module, "shortname", None) is original:
            module.shortname = shortname  # type: ignore[attr-defined]


# -- the names every Process starts from -------------------------------------------
# Process.__init__ builds the Avro names of File, Directory and Any afresh for every
# tool and every workflow step (make_avro_schema: ~0.75 ms each, 0.15 s of loading a
# 200-step workflow, minutes for 100,000 steps), then adds its own record types to
# them. The same three schemas give the same names: built once, each Process gets a
# new Names holding them, to which it adds its own as before.


def _install_base_names() -> None:
    import cwltool.process
    from schema_salad.avro.schema import Names

    original = cwltool.process.make_avro_schema
    built: list[tuple[tuple[Any, ...], Any]] = []

    def make_avro_schema(i: Any, loader: Any, metaschema_vocab: Any = None) -> Any:
        base = (cwltool.process.SCHEMA_FILE, cwltool.process.SCHEMA_DIR, cwltool.process.SCHEMA_ANY)
        if metaschema_vocab is not None or not isinstance(i, list) or len(i) != 3 or base[0] is None:
            return original(i, loader, metaschema_vocab)
        if not all(given is known for given, known in zip(i, base, strict=True)):
            return original(i, loader, metaschema_vocab)
        if not built or not all(a is b for a, b in zip(built[0][0], base, strict=True)):
            built[:] = [(base, original(i, loader, metaschema_vocab))]
        template = built[0][1]
        names = Names()
        names.names = dict(template.names)
        names.default_namespace = template.default_namespace
        return names

    cwltool.process.make_avro_schema = make_avro_schema  # type: ignore[assignment]


# -- cwltool.checker.circular_dependency_checker ------------------------------------
# A recursive depth-first search whose "seen" and "on the path" tests scan lists: a
# workflow of N steps costs O(N²) comparisons (minutes for 100,000 steps), and one
# whose dependency chains are deeper than Python's recursion limit (~1,000 steps)
# fails to load with "maximum recursion depth exceeded". The same search, in the same
# order (so the same cycles, in the same message), with an explicit stack and sets.


def circular_dependency_checker(step_inputs: list[Any]) -> None:
    """cwltool.checker.circular_dependency_checker, iterative and linear."""
    from cwltool.checker import get_dependency_tree
    from schema_salad.exceptions import ValidationException

    adjacency = get_dependency_tree(step_inputs)
    processed: set[str] = set()
    cycles: list[list[str]] = []
    for vertex in adjacency:
        if vertex in processed:
            continue
        path = [vertex]
        position = {vertex: 0}
        pending = [iter(adjacency[vertex])]
        while pending:
            for following in pending[-1]:
                if following in position:
                    cycles.append(path[position[following] :])
                elif following not in processed:
                    position[following] = len(path)
                    path.append(following)
                    pending.append(iter(adjacency[following]))
                    break
            else:  # every edge of the path's tip followed: done with it
                tip = path.pop()
                del position[tip]
                processed.add(tip)
                pending.pop()
    if cycles:
        raise ValidationException(
            "The following steps have circular dependency:\n" + "\n".join(str(cycle) for cycle in cycles)
        )


# -- cwltool.utils' walks over CWL objects -------------------------------------------
# Each step of cwltool's walks asks isinstance(x, MutableMapping) and
# isinstance(x, MutableSequence): ABC checks, ~0.5 us each through
# ABCMeta.__instancecheck__, for every value of every object, several walks per
# job and per output (a tenth of the leader's time on a scatter). These give the
# same answers, asking the type first for the types JSON gives (dict, list, str,
# numbers, None) and the ABCs only for anything else (ruamel's CommentedMap, ...).

_LEAVES = (str, int, float, bool, type(None), bytes)


def _shape(rec: Any) -> int:
    """1: a MutableMapping, 2: a MutableSequence (3: both), 0: neither."""
    t = type(rec)
    if t is dict:
        return 1
    if t is list:
        return 2
    if t in _LEAVES:
        return 0
    from collections.abc import MutableMapping, MutableSequence

    return (1 if isinstance(rec, MutableMapping) else 0) | (2 if isinstance(rec, MutableSequence) else 0)


def visit_class(rec: Any, cls: Any, op: Any) -> None:
    """cwltool.utils.visit_class."""
    shape = _shape(rec)
    if shape & 1:
        if "class" in rec and rec.get("class") in cls:
            op(rec)
        for d in rec:
            visit_class(rec[d], cls, op)
    if shape & 2:
        for d in rec:
            visit_class(d, cls, op)


def _visitor(classes: tuple[str, ...], name: str) -> Any:
    def visit(rec: Any, op: Any) -> None:
        shape = _shape(rec)
        if shape & 1:
            if rec.get("class") in classes:
                op(rec)
            for d in rec:
                visit(rec[d], op)
        if shape & 2:
            for d in rec:
                visit(d, op)

    visit.__name__ = visit.__qualname__ = name
    visit.__doc__ = f"cwltool.utils.{name}."
    return visit


visit_files = _visitor(("File",), "visit_files")
visit_directories = _visitor(("Directory",), "visit_directories")
visit_files_directories = _visitor(("File", "Directory"), "visit_files_directories")


def visit_field(rec: Any, field: str, op: Any) -> None:
    """cwltool.utils.visit_field."""
    shape = _shape(rec)
    if shape & 1:
        if field in rec:
            rec[field] = op(rec[field])
        for d in rec:
            visit_field(rec[d], field, op)
    if shape & 2:
        for d in rec:
            visit_field(d, field, op)


#: cwltool's own, kept for the tests that compare them with ours
ORIGINAL_VISITORS: dict[str, Any] = {}
VISITORS = ("visit_class", "visit_files", "visit_directories", "visit_files_directories", "visit_field")


def _install_visitors() -> None:
    """Put ours wherever cwltool's are: cwltool.utils (which its adjust* helpers call)
    and every module that imported them by name."""
    import sys

    import cwltool.utils

    originals = {name: getattr(cwltool.utils, name) for name in VISITORS}
    ORIGINAL_VISITORS.update(originals)
    ours = {name: globals()[name] for name in VISITORS}
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith(("cwltool", "cwl_runner", "cwl_utils")):
            continue
        for name, original in originals.items():
            if getattr(module, name, None) is original and module_name != __name__:
                setattr(module, name, ours[name])


_names: set[str] = set()
_original_uniquename: Callable[..., str] | None = None
_next_suffix: dict[str, int] = {}


def uniquename(stem: str, names: set[str] | None = None) -> str:
    """cwltool.process.uniquename without rescanning ``stem_2 ... stem_N`` on every call.

    Names are only ever added to the set, so the smallest free suffix never goes
    below the last one handed out for a stem: start the search there.
    """
    if names is not None and names is not _names:
        assert _original_uniquename is not None
        return _original_uniquename(stem, names)
    c = _next_suffix.get(stem, 1)
    u = stem if c == 1 else f"{stem}_{c}"
    while u in _names:
        c += 1
        u = f"{stem}_{c}"
    _names.add(u)
    _next_suffix[stem] = c
    return u


def parallel_steps(steps: list[Any], rc: Any, runtimeContext: Any) -> Any:
    """cwltool.workflow_job.parallel_steps without revisiting finished scatter jobs.

    cwltool restarts its scan at the first scatter job after every job it hands
    out, resuming every exhausted generator on the way: O(N²) for N jobs. Here an
    exhausted generator is dropped from the list, and the scan starts after the
    leading run of dropped ones.
    """
    from cwltool.context import getdefault
    from cwltool.errors import WorkflowException
    from cwltool.workflow_job import _logger

    stop_on_error = getdefault(runtimeContext.on_error, "stop") == "stop"
    ok = ("success", "skipped")
    first = 0  # steps[:first] are all exhausted
    while rc.completed < rc.total:
        made_progress = False
        while first < len(steps) and steps[first] is None:
            first += 1
        for index in range(first, len(steps)):
            if stop_on_error and rc.processStatus not in ok:
                break
            step = steps[index]
            if step is None:
                continue
            try:
                exhausted = True
                for j in step:
                    if stop_on_error and rc.processStatus not in ok:
                        exhausted = False
                        break
                    if j is not None:
                        made_progress = True
                        yield j
                    else:
                        exhausted = False
                        break
                if exhausted:
                    steps[index] = None
                if made_progress:
                    break
            except WorkflowException as exc:
                steps[index] = None
                _logger.error("Cannot make scatter job: %s", str(exc))
                _logger.debug("", exc_info=True)
                rc.receive_scatter_output(index, {}, "permanentFail")
        if not made_progress and rc.completed < rc.total:
            yield None


_original_load_tool: Callable[..., Any] | None = None
_step_tools: dict[tuple[Any, ...], Any] = {}
#: the loader of the load the cache belongs to (held, so it is never a reused id)
_cache_loader: Any = None


def load_step_tool(argsworkflow: Any, loadingContext: Any) -> Any:
    """cwltool.workflow.load_tool for a step's ``run:``, loading each document once.

    cwltool loads, validates and builds the tool of every step separately, even when
    200 steps run the same file: 5-25 ms a step (most of a chain's or a wide
    workflow's start). A step's tool depends only on the document and what the
    loading context brings to it (the requirements and hints the step inherits,
    overrides, loading options), and cwltool never changes a tool after making it
    (a run's state lives in its jobs), so steps alike share one. A file that
    changed on disk (an embedding program loading again) is loaded again; with
    provenance every step gets its own, as cwltool records them per step.
    """
    assert _original_load_tool is not None
    if not isinstance(argsworkflow, str) or loadingContext.research_obj is not None or loadingContext.prov_obj:
        return _original_load_tool(argsworkflow, loadingContext)
    import json
    from urllib.parse import urlsplit

    try:
        stamp: tuple[int, int] | None = None
        if argsworkflow.startswith("file://"):
            info = os.stat(urlsplit(argsworkflow).path)
            stamp = (info.st_mtime_ns, info.st_size)
        options = tuple(
            sorted((k, v) for k, v in vars(loadingContext).items() if isinstance(v, (bool, int, float, str)))
        )
        key = (
            argsworkflow,
            stamp,
            json.dumps([loadingContext.requirements, loadingContext.hints, loadingContext.overrides_list], default=str),
            options,
            id(loadingContext.construct_tool_object),
        )
    except (OSError, TypeError, ValueError):
        return _original_load_tool(argsworkflow, loadingContext)
    global _cache_loader
    if loadingContext.loader is not _cache_loader:  # a new load: a new cache (an id may be reused)
        _step_tools.clear()
        _cache_loader = loadingContext.loader
    tool = _step_tools.get(key)
    if tool is None:
        tool = _step_tools[key] = _original_load_tool(argsworkflow, loadingContext)
    return tool


_original_stage_files: Callable[..., None] | None = None


def stage_files(
    pathmapper: Any,
    stage_func: Any = None,
    ignore_writable: bool = False,
    symlink: bool = True,
    secret_store: Any = None,
    fix_conflicts: bool = False,
) -> None:
    """cwltool.process.stage_files, whose renaming of clashing targets is linear.

    With ``fix_conflicts`` (relocating the final outputs into --outdir), cwltool
    renames the Nth file with a taken name by trying ``NAME_2``, ``NAME_3``, ...
    from 2 each time: O(N²) for a scatter's N outputs of one name (10,000 of them:
    50 million tries). Here the same renames are made first, each search starting
    where the last one for that name ended (names only ever get taken, so nothing
    below is free); cwltool's own function then finds no clash left and stages.
    """
    assert _original_stage_files is not None
    if fix_conflicts:
        targets: dict[str, Any] = {}
        next_suffix: dict[str, int] = {}
        items = pathmapper.items() if not symlink else pathmapper.items_exclude_children()
        for key, entry in list(items):
            if entry.type is None or "File" not in entry.type:
                continue
            if entry.target not in targets:
                targets[entry.target] = entry
            elif targets[entry.target].resolved != entry.resolved:
                tgt = free_name(entry.target, targets, next_suffix)
                targets[tgt] = pathmapper.update(key, entry.resolved, tgt, entry.type, entry.staged)
    _original_stage_files(pathmapper, stage_func, ignore_writable, symlink, secret_store, fix_conflicts)


def free_name(target: str, taken: Container[str], next_suffix: dict[str, int]) -> str:
    """cwltool's name for a file whose ``target`` is taken: ``target_2``, ``target_3``, ...,
    the first not ``taken``, the search resuming where the last one for ``target`` ended."""
    i = next_suffix.get(target, 2)
    while f"{target}_{i}" in taken:
        i += 1
    next_suffix[target] = i + 1
    return f"{target}_{i}"


#: job stores whose files final outputs may share (hard links) instead of copying
LINKABLE_ROOTS: set[str] = set()


def _link_or_copy2(src: str, dst: str) -> Any:
    """shutil.copy2 for cwltool's output relocation: a hard link when the file is in a
    job store on the same filesystem (the store's copy and --outdir's then share the
    bytes: no copy, and --restart still finds it), else a copy as before."""
    import os
    import shutil

    from .pathmapper import link_or_copy_file
    from .workdirs import real_path

    real = real_path(src)
    if any(real.startswith(root) for root in LINKABLE_ROOTS):
        if os.path.isdir(dst):
            dst = os.path.join(dst, os.path.basename(src))
        return link_or_copy_file(real, dst)
    return shutil.copy2(src, dst)


class _RelocatingShutil:
    """What ``cwltool.process`` sees as ``shutil``: the real module, except that
    ``copy2`` (used there only by ``relocateOutputs`` for files) may hard-link.
    Writable staging uses ``shutil.copy``/``copytree`` and still copies."""

    copy2 = staticmethod(_link_or_copy2)

    def __getattr__(self, name: str) -> Any:
        import shutil

        return getattr(shutil, name)


class _ProcessOsPath:
    """``os.path`` as ``cwltool.process`` sees it: ``realpath`` (used there by
    ``relocateOutputs``, on every final output) resolves paths below the job store
    and the output directory cheaply (``workdirs.real_path``), same results."""

    @staticmethod
    def realpath(path: Any, *args: Any, **kwargs: Any) -> Any:
        import os

        from .workdirs import real_path

        if args or kwargs or not isinstance(path, str):
            return os.path.realpath(path, *args, **kwargs)
        return real_path(path)

    def __getattr__(self, name: str) -> Any:
        import os

        return getattr(os.path, name)


class _ProcessOs:
    """What ``cwltool.process`` sees as ``os``: the real module, with :class:`_ProcessOsPath`."""

    path = _ProcessOsPath()

    def __getattr__(self, name: str) -> Any:
        import os

        return getattr(os, name)


# -- deep copies of ruamel's commented containers ---------------------------------------
# cwltool deep-copies every job's command-line bindings (a CommentedSeq of CommentedMaps)
# in Process._init_job. ruamel's __deepcopy__ copies each container's YAML attributes
# (line/column table, comments, format) through a generic deep copy, and
# CommentedSeq.__deepcopy__ does so once per *element*. These copiers give the same
# result — same class, items deep-copied through the memo, attributes copied once and
# independent of the original's — at a fraction of the cost.

_YAML_ATTRS = ("_yaml_comment", "_yaml_format", "_yaml_line_col", "_yaml_anchor", "_yaml_tag", "_yaml_merge")


_MISSING = object()


def _copy_yaml_attrs(source: Any, target: Any) -> None:
    import copy

    from ruamel.yaml.comments import LineCol

    for name in _YAML_ATTRS:
        value = getattr(source, name, _MISSING)  # some live in __slots__
        if value is _MISSING:
            continue
        if type(value) is LineCol:
            lc = LineCol.__new__(LineCol)
            lc.__dict__.update(value.__dict__)
            if value.data is not None:
                lc.data = {k: list(v) if type(v) is list else copy.deepcopy(v) for k, v in value.data.items()}
            setattr(target, name, lc)
        else:
            setattr(target, name, copy.deepcopy(value))


def _copy_commented_map(obj: Any, memo: dict[int, Any]) -> Any:
    import copy

    result = obj.__class__()
    memo[id(obj)] = result
    get = dict.__getitem__
    for key in obj:
        result[key] = copy.deepcopy(get(obj, key), memo)
    _copy_yaml_attrs(obj, result)
    return result


def _copy_commented_seq(obj: Any, memo: dict[int, Any]) -> Any:
    import copy

    result = obj.__class__()
    memo[id(obj)] = result
    for item in obj:
        result.append(copy.deepcopy(item, memo))
    _copy_yaml_attrs(obj, result)
    return result

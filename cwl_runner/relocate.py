"""The final outputs into ``--outdir``: cwltool's ``relocateOutputs``, with a direct
way for the usual case.

cwltool relocates by building a PathMapper over every output file, resolving each
path twice, staging through ``stage_files`` and visiting the output object three
more times: about 0.2 ms of the leader's time per file, which at the end of a
10,000-way scatter is two seconds with nothing else running. When every output is
a plain file in the job store, :func:`relocate_outputs` does what that amounts to
directly: one ``lstat`` per path component, one hard link per file, the same
target names (``NAME``, then ``NAME_2``, ``NAME_3``, ... for clashing names, in
the same order), the same rewritten locations, the same checksums (moved instead of
linked when the run succeeded and its job store is removed next). Anything else
(a Directory, secondaryFiles, a link, a remote or shared object, an action other
than copying, a target that exists) goes to cwltool's own function, untouched.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, MutableSequence
from typing import Any

#: cwltool's relocateOutputs, for everything :func:`relocate_outputs` does not do itself
_original: Any = None

#: job store directories whose files the next relocation may move instead of link:
#: set by the executor (:func:`allow_moves`) when the run succeeded and its store is
#: removed next, and used up by that relocation
_movable: tuple[str, ...] = ()


def allow_moves(*roots: str) -> None:
    """Let the next relocation move (rename) files below ``roots`` into place instead of
    linking them: their store is removed next, and a job directory left empty is one
    ``rmdir``, not an ``unlink`` and an ``rmdir`` (``workdirs.remove_tree``)."""
    global _movable
    _movable = tuple(root.rstrip(os.sep) + os.sep for root in roots)


_SCALARS = (str, int, float, bool, type(None))

#: a path that a file URI holds as it is (nothing percent-encoded)
_AS_IS = re.compile(r"[A-Za-z0-9_.~/-]*\Z")


def _path(location: str) -> str:
    """``uri_file_path(location)``; a file:/// URI with nothing quoted in it is read
    directly (the usual job store path: 15 us less per file)."""
    if location.startswith("file:///") and _AS_IS.match(location, 7) and "//" not in location[7:]:
        return location[7:]
    from schema_salad.ref_resolver import uri_file_path

    return uri_file_path(location)  # type: ignore[no-any-return]


def _uri(path: str) -> str:
    """``file_uri(path)``, directly when nothing in the path needs quoting."""
    if path.startswith("/") and _AS_IS.match(path) and "//" not in path:
        return "file://" + path
    from schema_salad.ref_resolver import file_uri

    return file_uri(path)  # type: ignore[no-any-return]


def install() -> None:
    """Make cwltool's executors relocate through :func:`relocate_outputs`."""
    global _original
    import cwltool.executors
    import cwltool.process

    if _original is None:
        _original = cwltool.process.relocateOutputs
    cwltool.executors.relocateOutputs = relocate_outputs  # type: ignore[assignment]


def relocate_outputs(
    outputObj: Any,
    destination_path: str,
    source_directories: Any,
    action: str,
    fs_access: Any,
    compute_checksum: bool = True,
    path_mapper: Any = None,
) -> Any:
    """``cwltool.process.relocateOutputs``, same arguments and same result."""
    global _movable
    movable, _movable = _movable, ()
    plan = _plan(outputObj, destination_path, action)
    if plan is None:
        kwargs = {} if path_mapper is None else {"path_mapper": path_mapper}
        return _original(outputObj, destination_path, source_directories, action, fs_access, compute_checksum, **kwargs)
    files, targets = plan
    if targets:
        os.makedirs(destination_path, exist_ok=True)
        # a rename replaces what is there: only into a directory with nothing in it yet
        # (its names are then the ones placed here, all different)
        if movable:
            with os.scandir(destination_path) as entries:
                if next(entries, None) is not None:
                    movable = ()
    for path, target in targets.items():
        if movable and path.startswith(movable):
            try:
                os.rename(path, target)
                continue
            except OSError:  # another filesystem: linked or copied below
                pass
        _place(path, target)
    new_location = {path: _uri(target) for path, target in targets.items()}
    for entry, path in files:
        entry["location"] = new_location[path]
        entry.pop("contents", None)
    if compute_checksum:
        from cwltool.process import compute_checksums

        for entry, _ in files:
            if "checksum" not in entry:
                compute_checksums(fs_access, entry)  # type: ignore[arg-type]
    return outputObj


def _plan(output: Any, destination: str, action: str) -> tuple[list[tuple[dict[str, Any], str]], dict[str, str]] | None:
    """(each output File with its path, each path's target in order), or None when
    cwltool must relocate: anything but plain files in the job store, copied."""
    if action != "copy" or not isinstance(destination, str):
        return None
    from .patches import LINKABLE_ROOTS, free_name

    roots = tuple(root.rstrip(os.sep) + os.sep for root in LINKABLE_ROOTS)
    if not roots:
        return None
    files: list[tuple[dict[str, Any], str]] = []
    seen: set[int] = set()
    checked: dict[str, bool] = {}
    real_dirs: dict[str, bool] = {}
    targets: dict[str, str] = {}  # path -> target, in cwltool's staging order
    taken: dict[str, str] = {}  # target -> path
    next_suffix: dict[str, int] = {}
    todo: list[Any] = [output]
    while todo:  # depth first, in document order: cwltool's _collectDirEntries
        value = todo.pop()
        if isinstance(value, Mapping):
            kind = value.get("class")
            if kind not in ("File", "Directory"):
                todo.extend(reversed(list(value.values())))
                continue
            if kind != "File" or id(value) in seen:  # a Directory; one object twice
                return None
            seen.add(id(value))
            for key, item in value.items():
                if not isinstance(item, _SCALARS) and not (key == "secondaryFiles" and item == []):
                    return None
            location, basename = value.get("location"), value.get("basename")
            if (
                "dirname" in value
                or not isinstance(location, str)
                or not location.startswith("file://")
                or "#" in location
                or "?" in location
                or not isinstance(basename, str)
                or basename in ("", ".", "..")
                or os.sep in basename
            ):
                return None
            path = _path(location)
            plain = checked.get(path)
            if plain is None:
                plain = checked[path] = _plain_file_below(path, roots, real_dirs)
            if not plain:
                return None
            files.append((value, path))  # type: ignore[arg-type]
            if path in targets:  # the same file again: the same target
                continue
            target = os.path.join(destination, basename)
            if target in taken:  # cwltool's fix_conflicts, without rescanning from _2
                target = free_name(target, taken, next_suffix)
            taken[target] = path
            targets[path] = target
        elif isinstance(value, MutableSequence):
            todo.extend(reversed(value))
    return files, targets


def _plain_file_below(path: str, roots: tuple[str, ...], real_dirs: dict[str, bool]) -> bool:
    """Whether ``path`` is a regular file below one of ``roots``, reached through no
    link (its realpath is itself, as cwltool's realpath would find it). ``real_dirs``:
    directories already looked at (whether each is its own realpath), as a job store's
    outputs share a few."""
    from .workdirs import real_path

    if not path.startswith(roots):
        return False
    directory, name = os.path.split(path)
    real = real_dirs.get(directory)
    if real is None:
        real = real_dirs[directory] = real_path(directory) == directory
    if not real or name in ("", ".", ".."):
        return False
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)  # (a link is not)
    except OSError:
        return False


def _place(path: str, target: str) -> None:
    """A hard link at ``target`` to the store's ``path``; if ``target`` exists, what
    cwltool's ``_relocate`` does there (its realpath, then copy2 over it)."""
    try:
        os.link(path, target)
        return
    except FileExistsError:
        pass
    except OSError:  # another filesystem, no links: cwltool's way below copies
        pass
    from .patches import _link_or_copy2
    from .workdirs import real_path

    destination = real_path(target)
    if destination != path:
        _link_or_copy2(path, destination)

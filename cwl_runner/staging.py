"""Where a job's remote inputs come from, and where its outputs go.

With an S3 job store, every file a job produces is uploaded by the worker that ran
it (``worker.execute`` → ``upload``) under ``files/JOB_ID/`` in the bucket, and the
leader rewrites the job's output locations to those s3:// URLs
(:func:`to_store_urls`), so the workflow, the ``done/`` records and the final
output object only name what is in the bucket.

When a later job needs one of those files, :class:`Stager` gives cwltool's
PathMapper a local path: the producing job's directory when it is still on this
machine (no transfer at all), otherwise a copy fetched once into the run's local
cache. User inputs given as s3:// or http(s):// URLs take the same path.
:class:`RemoteFsAccess` lets cwltool's expressions, ``loadContents``, listings and
checks read s3:// and http(s):// locations the same way.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from cwltool.pathmapper import MapperEnt, PathMapper
from cwltool.stdfsaccess import StdFsAccess
from cwltool.utils import visit_class
from schema_salad.ref_resolver import file_uri

from . import remote
from .jobstore.base import JobStore


class Stager:
    """Local copies of remote files for one run: job outputs still on this machine,
    and a cache of fetched ones."""

    def __init__(self, store: JobStore | None, cache: str) -> None:
        self.store = store
        self.cache = cache
        self.files_base = store.url("files/") if store is not None and store.remote_outputs else None
        #: job id → that job's output directory on this machine
        self.outdirs: dict[str, str] = {}

    def output_url(self, job_id: str) -> str | None:
        """Where job ``job_id`` uploads its outputs (None: they stay where they are)."""
        return f"{self.files_base}{job_id}/" if self.files_base else None

    def register(self, job_id: str, outdir: str) -> None:
        self.outdirs[job_id] = outdir

    def local(self, url: str) -> str | None:
        """The path of ``url`` on this machine without a transfer, or None."""
        if self.files_base is None or not url.startswith(self.files_base):
            return None
        job_id, _, rel = url[len(self.files_base) :].partition("/")
        outdir = self.outdirs.get(job_id)
        if outdir is None:
            return None
        path = os.path.join(outdir, *urllib.parse.unquote(rel).split("/")) if rel else outdir
        path = path.rstrip(os.sep) or os.sep
        return path if os.path.lexists(path) else None

    def cache_path(self, url: str, basename: str) -> str:
        return os.path.join(self.cache, remote.cache_name(url), basename or "data")

    def fetch(self, url: str, basename: str = "", directory: bool = False) -> str:
        """A local path holding ``url``: the job's own file, or a fetched copy."""
        path = self.local(url)
        if path is not None:
            return path
        if not basename:
            basename = urllib.parse.unquote(url.rstrip("/").rsplit("/", 1)[-1])
        return remote.fetch(url, self.cache_path(url, basename), directory=directory)

    def localize(self, obj: Any, threads: int = 8) -> None:
        """Rewrite every remote File/Directory location in ``obj`` to a local
        file:// one, fetching what is not on this machine (concurrently)."""
        items: list[dict[str, Any]] = []

        def collect(entry: dict[str, Any]) -> None:
            if remote.is_remote(str(entry.get("location", ""))):
                items.append(entry)

        visit_class(obj, ("File", "Directory"), collect)
        if not items:
            return

        def one(entry: dict[str, Any]) -> None:
            path = self.fetch(entry["location"], entry.get("basename", ""), entry.get("class") == "Directory")
            entry["location"] = file_uri(path)
            entry.pop("path", None)

        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(one, items):
                pass

    # -- the classes cwltool is given -------------------------------------------------
    def path_mapper(self) -> type[PathMapper]:
        return type("RunnerPathMapper", (RunnerPathMapper,), {"stager": self})

    def fs_access(self) -> type[StdFsAccess]:
        return type("RunnerFsAccess", (RemoteFsAccess,), {"stager": self})


def to_store_urls(outputs: Any, outdir: str, base_url: str) -> None:
    """Rewrite locations inside ``outdir`` to the URLs the job uploaded them to."""
    prefixes = {file_uri(outdir.rstrip(os.sep)) + "/", file_uri(os.path.realpath(outdir)) + "/"}

    def rewrite(entry: dict[str, Any]) -> None:
        location = str(entry.get("location", ""))
        for prefix in prefixes:
            if location.startswith(prefix):
                entry["location"] = base_url + location[len(prefix) :]
                entry.pop("path", None)
                return
            if location + "/" == prefix:  # the outdir itself
                entry["location"] = base_url.rstrip("/")
                entry.pop("path", None)
                return

    visit_class(outputs, ("File", "Directory"), rewrite)


class RunnerPathMapper(PathMapper):
    """cwltool's PathMapper, with s3:// and http(s):// locations staged from a
    local copy (:class:`Stager`) instead of cwltool's own http download."""

    stager: Stager | None = None

    def visit(self, obj: Any, stagedir: str, basedir: str, copy: bool = False, staged: bool = False) -> None:
        location = str(obj["location"])
        if self.stager is None or not remote.is_remote(location):
            super().visit(obj, stagedir, basedir, copy=copy, staged=staged)
            return
        if location in self._pathmap:
            return
        stagedir = obj.get("dirname") or stagedir
        target = os.path.join(stagedir, obj["basename"])
        if obj["class"] == "Directory":
            resolved = self.stager.fetch(location, obj["basename"], directory=True)
            self._pathmap[location] = MapperEnt(resolved, target, "WritableDirectory" if copy else "Directory", staged)
            # the whole directory is staged at once: its entries need no staging of their own
            self.visitlisting(obj.get("listing", []), target, basedir, copy=copy, staged=False)
            return
        resolved = self.stager.fetch(location, obj["basename"])
        self._pathmap[location] = MapperEnt(resolved, target, "WritableFile" if copy else "File", staged)
        self.visitlisting(obj.get("secondaryFiles", []), stagedir, basedir, copy=copy, staged=staged)


class RemoteFsAccess(StdFsAccess):
    """cwltool's file access, also for s3:// and http(s):// locations."""

    stager: Stager | None = None

    def _local(self, fn: str) -> str | None:
        return self.stager.local(fn) if self.stager is not None else None

    def open(self, fn: str, mode: str) -> IO[Any]:
        if remote.is_remote(fn):
            local = self._local(fn)
            if local is not None:
                return open(local, mode)
            if "r" not in mode:
                raise remote.RemoteError(f"{fn}: remote files are read-only")
            handle = remote.open_url(fn)
            if "b" in mode:
                return handle
            import io

            return io.TextIOWrapper(handle, encoding="utf-8")  # type: ignore[type-var]
        return super().open(fn, mode)

    def exists(self, fn: str) -> bool:
        if remote.is_remote(fn):
            return self._local(fn) is not None or remote.exists(fn)
        return super().exists(fn)

    def size(self, fn: str) -> int:
        if remote.is_remote(fn):
            local = self._local(fn)
            if local is not None:
                return os.path.getsize(local)
            if remote.scheme(fn) == "s3":
                head = remote.s3_head(fn)
                if head is None:
                    raise remote.RemoteError(f"{fn}: no such object")
                return int(head["ContentLength"])
            return remote.http_size(fn)
        return super().size(fn)

    def isfile(self, fn: str) -> bool:
        if remote.is_remote(fn):
            local = self._local(fn)
            if local is not None:
                return os.path.isfile(local)
            if remote.scheme(fn) == "s3":
                return remote.s3_head(fn) is not None
            return remote.http_exists(fn)
        return super().isfile(fn)

    def isdir(self, fn: str) -> bool:
        if remote.is_remote(fn):
            local = self._local(fn)
            if local is not None:
                return os.path.isdir(local)
            return remote.scheme(fn) == "s3" and remote.s3_is_dir(fn)
        return super().isdir(fn)

    def listdir(self, fn: str) -> list[str]:
        if remote.is_remote(fn):
            local = self._local(fn)
            if local is not None:
                base = fn.rstrip("/") + "/"
                return [base + urllib.parse.quote(name) for name in sorted(os.listdir(local))]
            if remote.scheme(fn) != "s3":
                raise remote.RemoteError(f"{fn}: cannot list an http(s) location")
            return sorted(_s3_children(fn))
        return super().listdir(fn)

    def glob(self, pattern: str) -> list[str]:
        if remote.is_remote(pattern):
            return [pattern] if self.exists(pattern) else []
        return super().glob(pattern)

    def join(self, path: str, *paths: str) -> str:
        if remote.is_remote(path):
            return "/".join([path.rstrip("/"), *paths])
        return super().join(path, *paths)

    def realpath(self, path: str) -> str:
        if remote.is_remote(path):
            return path
        return super().realpath(path)


def _s3_children(url: str) -> Iterator[str]:
    prefix = url.rstrip("/") + "/"
    bucket, base = remote.split_s3(prefix)
    for key, _size in remote.s3_list(prefix, delimiter="/"):
        name = key[len(base) :].rstrip("/")
        if name:
            yield remote.s3_url(bucket, key.rstrip("/"))

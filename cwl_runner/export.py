"""Exporting the final outputs to an s3:// ``--outdir``.

A local ``--outdir`` is cwltool's business (``relocateOutputs``), once remote
locations have been fetched (``Stager.localize``). For an s3:// destination we lay
the outputs out as cwltool would in a directory — each top-level File or
Directory under its basename, secondary files beside their primary, a name taken
twice gets ``_2``, ``_3`` — and copy them there: server-side when the source is
already in S3, an upload when it is local. Checksums are kept from output
collection; one missing (and asked for) is computed by streaming the object once.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cwltool.utils import visit_class
from schema_salad.ref_resolver import uri_file_path

from . import remote


def _entries(obj: Any) -> Iterator[dict[str, Any]]:
    """Top-level File and Directory objects of an output object, in order."""
    if isinstance(obj, dict):
        if obj.get("class") in ("File", "Directory"):
            yield obj
        else:
            for value in obj.values():
                yield from _entries(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _entries(value)


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        stem, dot, ext = name.partition(".")
        candidate = f"{stem}_{n}{dot}{ext}"
    used.add(candidate)
    return candidate


class _Copier:
    def __init__(self) -> None:
        self.tasks: list[tuple[str, Any, str]] = []  # (kind, source, target url)

    def file(self, entry: dict[str, Any], target: str) -> None:
        location = str(entry.get("location", ""))
        if location.startswith("_:") or "contents" in entry and not location.startswith(("s3:", "file:")):
            self.tasks.append(("put", str(entry.get("contents", "")).encode(), target))
        elif location.startswith("s3://"):
            self.tasks.append(("copy", location, target))
        elif location.startswith("file://"):
            self.tasks.append(("upload", uri_file_path(location), target))
        elif remote.is_remote(location):
            self.tasks.append(("http", location, target))
        else:
            self.tasks.append(("upload", location, target))
        entry["location"] = target
        entry.pop("path", None)
        entry.pop("contents", None) if location.startswith("_:") else None
        for secondary in entry.get("secondaryFiles", []) or []:
            base = target.rsplit("/", 1)[0] + "/"
            self.place(secondary, base + urllib.parse.quote(secondary["basename"]))

    def directory(self, entry: dict[str, Any], target: str) -> None:
        location = str(entry.get("location", ""))
        listing = entry.get("listing")
        if location.startswith("s3://") and listing is None:
            source = location.rstrip("/") + "/"
            bucket, base = remote.split_s3(source)
            for key, _size in remote.s3_list(source):
                rel = urllib.parse.quote(key[len(base) :])
                self.tasks.append(("copy", remote.s3_url(bucket, key), target + "/" + rel))
        elif location.startswith("file://") and listing is None:
            self.tasks.append(("tree", uri_file_path(location), target))
        else:
            for child in listing or []:
                self.place(child, target + "/" + urllib.parse.quote(child["basename"]))
            if not listing:
                self.tasks.append(("put", b"", target + "/"))
        entry["location"] = target
        entry.pop("path", None)

    def place(self, entry: dict[str, Any], target: str) -> None:
        if entry.get("class") == "Directory":
            self.directory(entry, target)
        else:
            self.file(entry, target)

    def run(self, threads: int = 8) -> None:
        def one(task: tuple[str, Any, str]) -> None:
            kind, source, target = task
            if kind == "put":
                remote.s3_put(target, source)
            elif kind == "copy":
                remote.copy_object(source, target)
            elif kind == "upload":
                remote.upload_file(source, target)
            elif kind == "tree":
                remote.upload_tree(source, target)
            elif kind == "http":
                with remote.open_url(source) as handle:
                    import tempfile

                    with tempfile.NamedTemporaryFile() as tmp:
                        for chunk in iter(lambda: handle.read(remote.CHUNK), b""):
                            tmp.write(chunk)
                        tmp.flush()
                        remote.upload_file(tmp.name, target)

        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(one, self.tasks):
                pass


def export_to_s3(output: Any, dest: str, compute_checksum: bool = True) -> None:
    """Copy every File and Directory of ``output`` under ``dest`` and rewrite its locations."""
    dest = dest.rstrip("/") + "/"
    copier = _Copier()
    used: set[str] = set()
    for entry in _entries(output):
        name = _unique(entry.get("basename") or os.path.basename(str(entry["location"]).rstrip("/")), used)
        copier.place(entry, dest + urllib.parse.quote(name))
    copier.run()
    if compute_checksum:
        visit_class(output, ("File",), _checksum)


def _checksum(entry: dict[str, Any]) -> None:
    if "checksum" in entry or not str(entry.get("location", "")).startswith("s3://"):
        return
    digest = hashlib.sha1()
    with remote.s3_open(entry["location"]) as handle:
        for chunk in iter(lambda: handle.read(remote.CHUNK), b""):
            digest.update(chunk)
    entry["checksum"] = f"sha1${digest.hexdigest()}"

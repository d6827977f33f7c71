"""A job store in a local (or shared) directory."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import JobStoreError
from ..pathmapper import link_or_copy
from .base import JobStore


class LocalJobStore(JobStore):
    """Layout: ``jobs/`` records, ``results/`` results, ``work/`` job directories."""

    def __init__(self, root: str, create: bool = True) -> None:
        self.root = Path(root).absolute()
        self.locator = str(self.root)
        self._appending: dict[str, int] = {}  # key → fd of a journal open for appending
        try:
            if create:
                (self.root / "work").mkdir(parents=True, exist_ok=True)
            elif not self.root.is_dir():
                raise JobStoreError(f"job store {self.root} does not exist")
        except OSError as err:
            raise JobStoreError(f"cannot create job store {self.root}: {err.strerror}") from err

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise JobStoreError(f"key {key!r} is outside the job store")
        return path

    def put(self, key: str, data: bytes) -> None:
        self.put_stream(key, lambda handle: handle.write(data))

    def put_stream(self, key: str, write: Callable[[Any], Any]) -> None:
        """``put`` of what ``write(handle)`` writes (a big value never whole in memory)."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        except OSError as err:
            raise JobStoreError(f"cannot write {key} in job store {self.root}: {err.strerror or err}") from err
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            os.replace(tmp, path)  # readers see the old value or the new one, never half of one
        except BaseException as err:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if isinstance(err, OSError):
                raise JobStoreError(f"cannot write {key} in job store {self.root}: {err.strerror or err}") from err
            raise

    def append(self, key: str, data: bytes) -> None:
        fd = self._appending.get(key)
        if fd is None:
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            if os.fstat(fd).st_size:
                with open(path, "rb") as handle:
                    handle.seek(-1, os.SEEK_END)
                    if handle.read(1) != b"\n":
                        os.write(fd, b"\n")  # an earlier writer was killed mid-record: end its line
            self._appending[key] = fd
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    def close(self) -> None:
        for fd in self._appending.values():
            os.close(fd)
        self._appending.clear()

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as err:
            raise KeyError(key) from err

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self._path(os.path.dirname(prefix)) if "/" in prefix else self.root
        if not base.is_dir():
            return
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                key = os.path.relpath(os.path.join(dirpath, name), self.root)
                if key.startswith(prefix):
                    yield key

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def url(self, key: str) -> str:
        return self._path(key).as_uri()

    def local_path(self, key: str) -> str:
        """Where ``key`` lives on this machine."""
        return str(self._path(key))

    def import_file(self, source: str, key: str) -> str:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        link_or_copy(source, str(target))
        return target.as_uri()

    def workdir(self, kind: str) -> str:
        path = self.root / "work" / kind
        path.mkdir(parents=True, exist_ok=True)
        return str(path) + os.sep

    def destroy(self) -> None:
        from ..workdirs import remove_tree

        self.close()
        remove_tree(str(self.root))

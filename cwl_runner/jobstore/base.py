"""The job store interface: the only place a run's files and state live.

Nothing outside ``cwl_runner.jobstore`` knows a store's layout: callers speak in
keys (``jobs/000001.json``) and ask the store for URLs or local paths.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator


class JobStore(abc.ABC):
    """Keys are '/'-separated relative paths; values are bytes or files."""

    #: A URL a worker on another machine can open the store with.
    locator: str
    #: Whether job outputs are uploaded into the store (S3) rather than written in
    #: place (a local or shared directory).
    remote_outputs: bool = False

    @abc.abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically (readers never see half of it)."""

    def append(self, key: str, data: bytes) -> None:
        """Add ``data`` at the end of ``key``, visible to readers once this returns.

        For journals of small records (``done/``): one write per call, no new file.
        A process killed during the call may leave a partial last record, which
        readers must skip. Stores that cannot append (S3) raise NotImplementedError;
        callers then ``put`` one key per record.
        """
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the store holds open (journal files)."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """Return the bytes under ``key``; raise KeyError when there are none."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether ``key`` holds something."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys that start with ``prefix``."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` (a file or everything under a prefix); missing is fine."""

    @abc.abstractmethod
    def url(self, key: str) -> str:
        """A URL for ``key`` (file:// for a local store, s3:// for S3)."""

    @abc.abstractmethod
    def local_path(self, key: str) -> str:
        """A path on this machine for ``key`` (for a remote store: in its local scratch)."""

    @abc.abstractmethod
    def import_file(self, source: str, key: str) -> str:
        """Bring the local file ``source`` in under ``key``; return its URL.

        Local stores link rather than copy.
        """

    @abc.abstractmethod
    def workdir(self, kind: str) -> str:
        """A local directory prefix for job work areas of ``kind`` (``out``, ``tmp``).

        Jobs on a local store write their outputs straight into the store, so
        nothing needs copying back.
        """

    @abc.abstractmethod
    def destroy(self) -> None:
        """Remove the whole store."""

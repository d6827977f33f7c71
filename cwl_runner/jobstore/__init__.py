"""Job stores: open one from a locator (a path today; s3:// next)."""

from __future__ import annotations

import tempfile

from ..errors import ConfigurationError
from .base import JobStore
from .local import LocalJobStore

__all__ = ["JobStore", "LocalJobStore", "open_jobstore"]


def open_jobstore(locator: str | None, create: bool = True) -> JobStore:
    """Open (or create) the job store named by ``locator``; None makes a fresh one."""
    if locator is None:
        return LocalJobStore(tempfile.mkdtemp(prefix="runner-cwl-jobstore-"))
    if "://" in locator and not locator.startswith("file://"):
        scheme = locator.split("://", 1)[0]
        raise ConfigurationError(f"--jobstore {locator}: the {scheme}:// job store is not supported yet")
    return LocalJobStore(locator.removeprefix("file://"), create=create)

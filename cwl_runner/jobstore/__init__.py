"""Job stores: open one from a locator (a path, file://, or s3://bucket/prefix)."""

from __future__ import annotations

import os
import tempfile
import uuid

from ..errors import ConfigurationError
from .base import JobStore
from .local import LocalJobStore

__all__ = ["JobStore", "LocalJobStore", "open_jobstore"]


def open_jobstore(locator: str | None, create: bool = True) -> JobStore:
    """Open (or create) the job store named by ``locator``; None makes a fresh one."""
    if locator is None:
        # a fresh store: under $RUNNER_CWL_JOBSTORE_BASE (a directory or an s3:// prefix)
        # when set, else in the temporary directory
        base = os.environ.get("RUNNER_CWL_JOBSTORE_BASE", "")
        if base.startswith("s3://"):
            from .s3 import S3JobStore

            return S3JobStore(f"{base.rstrip('/')}/runner-cwl-{uuid.uuid4().hex[:16]}")
        if base:
            os.makedirs(base, exist_ok=True)
        return LocalJobStore(tempfile.mkdtemp(prefix="runner-cwl-jobstore-", dir=base or None))
    if locator.startswith("s3://"):
        from .s3 import S3JobStore

        return S3JobStore(locator, create=create)
    if "://" in locator and not locator.startswith("file://"):
        scheme = locator.split("://", 1)[0]
        raise ConfigurationError(f"--jobstore {locator}: the {scheme}:// job store is not supported yet")
    return LocalJobStore(locator.removeprefix("file://"), create=create)

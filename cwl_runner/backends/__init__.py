"""Backends run job records: ``local`` now, ``slurm`` next."""

from __future__ import annotations

from ..errors import ConfigurationError
from ..jobstore import JobStore
from .base import Backend
from .local import LocalBackend

BATCH_SYSTEMS = ("local",)


def make_backend(name: str, jobstore: JobStore, **options: object) -> Backend:
    if name == "local":
        return LocalBackend(jobstore, use_worker_process=bool(options.get("use_worker_process")))
    raise ConfigurationError(f"--batch-system {name}: unknown (choose from {', '.join(BATCH_SYSTEMS)})")

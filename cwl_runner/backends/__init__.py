"""Backends run job records: ``local`` (this machine) and ``slurm``; ``noop`` for benchmarks."""

from __future__ import annotations

from ..errors import ConfigurationError
from ..jobstore import JobStore
from .base import Backend
from .local import LocalBackend

BATCH_SYSTEMS = ("local", "slurm")


def make_backend(name: str, jobstore: JobStore, log_dir: str, **options: object) -> Backend:
    if name == "local":
        return LocalBackend(jobstore, use_worker_process=bool(options.get("use_worker_process")))
    if name == "noop":
        from .noop import NoopBackend

        return NoopBackend()
    if name == "slurm":
        from .slurm import SlurmBackend

        return SlurmBackend(
            jobstore,
            log_dir,
            slurm_args=options.get("slurm_args"),  # type: ignore[arg-type]
            use_arrays=bool(options.get("slurm_arrays", True)),
            batch_size=int(options.get("slurm_batch_size") or 1),  # type: ignore[call-overload]
        )
    raise ConfigurationError(f"--batch-system {name}: unknown (choose from {', '.join(BATCH_SYSTEMS)})")

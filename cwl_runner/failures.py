"""What a run's failures look like to its user: the summary at the end of a failed run
(the first failure in full, then "(and N more)") and the line about retries."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Any

from .job import JobRecord, JobResult


@dataclass
class Failure:
    name: str
    status: str
    record: JobRecord | None
    result: JobResult | None
    message: str = ""

    @property
    def kind(self) -> str:
        """task, system, memory or timeout (retry.py)."""
        return (self.result.failure if self.result else None) or "task"

    @property
    def attempts(self) -> int:
        return self.result.attempt if self.result else 1

    def entry(self) -> dict[str, Any]:
        """This failure as run.json lists it."""
        return {
            "step": self.name,
            "status": self.status,
            "kind": self.kind,
            "attempts": self.attempts,
            "exit_code": self.result.exit_code if self.result else None,
            "error": (self.result.error if self.result else None) or self.message,
            "log": (self.record.stderr or self.record.log) if self.record else None,
        }


def summary(failures: list[Failure], log_dir: str) -> str | None:
    """The failure summary, or None when no job failed (cancelled jobs do not count)."""
    real = [f for f in failures if f.status != "cancelled"]
    if not real:
        return None
    first = real[0]
    lines = [
        f"{len(real)} job(s) failed. First: step '{first.name}' ({first.status}: {first.kind} failure, "
        f"{_attempts(first.attempts)})"
    ]
    if first.message:
        lines.append(f"  error: {first.message}")
    if first.result is not None:
        if first.result.error:
            lines.append(f"  error: {first.result.error}")
        elif first.result.timed_out:
            lines.append("  stopped: time limit exceeded")
        elif first.result.exit_code == 0:
            lines.append("  exit code: 0, but collecting its outputs failed (see the error above)")
        elif first.result.exit_code < 0:
            name = signal.Signals(-first.result.exit_code).name
            lines.append(f"  killed by signal {name} (exit code {first.result.exit_code})")
        else:
            lines.append(f"  exit code: {first.result.exit_code}")
    if first.record is not None:
        lines.append("  command: " + " ".join(first.record.argv))
        log = first.record.stderr or first.record.log
        if log and os.path.exists(log):
            last = [line for line in tail(log, 12) if not line.startswith("# ")][-10:]
            if last:
                lines.append(f"  last lines of {log}:")
                lines.extend("    " + line for line in last)
        if first.record.log and first.record.log != log and os.path.exists(first.record.log):
            lines.append(f"  job log: {first.record.log}")
    if len(real) > 1:
        lines.append(
            f"  (and {len(real) - 1} more: "
            + ", ".join(f"{f.name} ({f.kind}, {_attempts(f.attempts)})" for f in real[1:6])
            + (", ..." if len(real) > 6 else "")
            + ")"
        )
    lines.append(f"  job logs: {log_dir}")
    return "\n".join(lines)


def retry_line(tally: Any, faults_injected: bool) -> str | None:
    """What was retried (retry.RetryPolicy's tally), or None when nothing was."""
    retried = {kind: n for kind, n in tally.retried.items() if n}
    if not retried:
        return None
    return "Retried {}; {} job(s) succeeded after a retry{}".format(
        ", ".join(f"{n} {kind} failure(s)" for kind, n in retried.items()),
        tally.succeeded_after_retry,
        f"; {tally.faults_injected} fault(s) injected (--inject-faults)" if faults_injected else "",
    )


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def tail(path: str, count: int) -> list[str]:
    """The last ``count`` lines of a (log) file, read from its last 4 KiB; [] if unreadable."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4096))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    return data.splitlines()[-count:]

"""What a run shows while it runs.

- ``live`` (stderr is a terminal): a rich ``Live`` display at the bottom of the
  terminal, one line per step (queued / running / done / failed, a bar for a
  scatter), the elapsed time and the cores and memory in use. Log lines are
  printed above it: the display redirects ``sys.stderr`` through its console
  and our log handler (``logs.make_handler``) always writes to the current
  ``sys.stderr``, so the two never garble each other.
- ``plain`` (stderr is a file or a pipe): one ``progress`` log line every
  ``RUNNER_CWL_PROGRESS_INTERVAL`` seconds (default 15) and one at the end.
- ``none``: nothing (``--quiet``, the API's default).

The display is refreshed from the leader's loop (at least once a second while
jobs run); it reads the per-step counters of :class:`~cwl_runner.events.RunEvents`,
so a refresh costs O(steps), never O(jobs).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .events import RunEvents, StepCounts

_logger = logging.getLogger("cwltool")
#: how many steps the live display lists before it folds the finished ones
MAX_STEP_LINES = 12


@dataclass
class Usage:
    """What the running jobs hold of the scheduler's limits."""

    running: int = 0
    cores: float = 0.0
    max_cores: float = 0.0
    ram: int = 0  # MiB
    max_ram: int = 0


class Display:
    """No display at all (``--quiet``)."""

    def start(self) -> None:
        pass

    def update(self, force: bool = False) -> None:
        pass

    def stop(self) -> None:
        pass


def make(mode: str, events: RunEvents, usage: Callable[[], Usage]) -> Display:
    """The display for ``mode``: live, plain, none, or auto (live on a terminal)."""
    if mode == "auto":
        mode = "live" if sys.stderr.isatty() and os.environ.get("TERM") != "dumb" else "plain"
    if mode == "live":
        return LiveDisplay(events, usage)
    if mode == "plain":
        return PlainDisplay(events, usage)
    return Display()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _mib(mib: float) -> str:
    return f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def _totals(events: RunEvents) -> StepCounts:
    total = StepCounts()
    for counts in events.steps.values():
        total.queued += counts.queued
        total.running += counts.running
        total.done += counts.done
        total.failed += counts.failed
        total.total += counts.total
    return total


def summary_line(events: RunEvents, usage: Usage, now: float | None = None) -> str:
    """One line for the whole run: elapsed time, job counts, resources in use."""
    now = time.time() if now is None else now
    total = _totals(events)
    parts = [
        f"elapsed {_clock(now - events.started)}",
        f"jobs: {total.done} done, {total.running} running, {total.queued} queued, {total.failed} failed",
    ]
    if events.reused:
        parts.append(f"{events.reused} reused")
    if usage.max_cores and usage.max_cores != float("inf"):
        parts.append(f"in use: {usage.cores:g}/{usage.max_cores:g} cores, {_mib(usage.ram)}/{_mib(usage.max_ram)} RAM")
    else:
        parts.append(f"in use: {usage.cores:g} cores, {_mib(usage.ram)} RAM")
    return " | ".join(parts)


class PlainDisplay(Display):
    """Periodic ``progress`` log lines (at INFO, so ``--quiet`` drops them)."""

    def __init__(self, events: RunEvents, usage: Callable[[], Usage], interval: float | None = None) -> None:
        self.events = events
        self.usage = usage
        if interval is None:
            interval = float(os.environ.get("RUNNER_CWL_PROGRESS_INTERVAL", "15"))
        self.interval = interval
        self._last = time.monotonic()

    def line(self) -> str:
        steps = ", ".join(
            f"{name} {c.ended}/{c.total}" + (f" ({c.running} running)" if c.running else "")
            for name, c in self.events.steps.items()
        )
        return f"progress: {summary_line(self.events, self.usage())}" + (f" | steps: {steps}" if steps else "")

    def update(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            _logger.info("%s", self.line())

    def stop(self) -> None:
        self.update(force=True)


class LiveDisplay(Display):
    """The rich display on a terminal."""

    REFRESH = 0.2  # seconds between two redraws at most

    def __init__(self, events: RunEvents, usage: Callable[[], Usage]) -> None:
        from rich.console import Console

        self.events = events
        self.usage = usage
        self.console = Console(file=sys.stderr, stderr=True)
        self._live: Any = None
        self._last = 0.0

    def render(self):  # type: ignore[no-untyped-def]
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=False)
        table.add_column("step", no_wrap=True, max_width=40, overflow="ellipsis")
        table.add_column("", no_wrap=True)
        table.add_column("done", justify="right", no_wrap=True)
        table.add_column("queued", justify="right", no_wrap=True)
        table.add_column("running", justify="right", no_wrap=True)
        table.add_column("failed", justify="right", no_wrap=True)
        steps = list(self.events.steps.items())
        folded = 0
        if len(steps) > MAX_STEP_LINES:
            active = [s for s in steps if s[1].queued or s[1].running]
            finished = [s for s in steps if not (s[1].queued or s[1].running)]
            keep = max(0, MAX_STEP_LINES - len(active))
            shown = finished[len(finished) - keep :] if keep else []
            folded = len(finished) - len(shown)
            wanted = {name for name, _ in active[:MAX_STEP_LINES] + shown}
            steps = [s for s in steps if s[0] in wanted]
        for name, counts in steps:
            if counts.total > 1:
                bar = ProgressBar(total=counts.total, completed=counts.ended, width=20)
            else:
                bar = Text("")
            state = "red" if counts.failed else ("green" if not (counts.queued or counts.running) else "cyan")
            table.add_row(
                Text(name, style=state),
                bar,
                f"{counts.done}/{counts.total}",
                str(counts.queued),
                str(counts.running),
                Text(str(counts.failed), style="red" if counts.failed else ""),
            )
        parts: list[object] = [table]
        if folded:
            parts.append(Text(f"(and {folded} finished steps)", style="dim"))
        parts.append(Text(summary_line(self.events, self.usage()), style="bold"))
        return Group(*parts)

    def start(self) -> None:
        from rich.live import Live

        self._live = Live(
            self.render(),
            console=self.console,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=True,
            transient=False,
        )
        self._live.start()

    def update(self, force: bool = False) -> None:
        if self._live is None:
            return
        now = time.monotonic()
        if force or now - self._last >= self.REFRESH:
            self._last = now
            self._live.update(self.render(), refresh=True)

    def stop(self) -> None:
        if self._live is None:
            return
        self.update(force=True)
        self._live.stop()
        self._live = None

#!/usr/bin/env python3
"""Leader-only scale benchmark: runner-cwl with the benchmark backend ``noop`` (every
job ends at once and nothing runs), so what is measured is the leader itself:
cwltool's job preparation and output collection, the scheduler, the done journal.

    python benchmarks/noop.py scatter 10000 100000   # an N-way scatter of a tool
    python benchmarks/noop.py dag 1000 5000          # a random DAG of N steps

For each run it prints the wall time, the peak RSS of runner-cwl, jobs/s over the
whole run and around 10%, 50% and 90% of the jobs (from the done journal, which
gets one line per finished job), and job events/s (a submission and a completion
per job). ``RUNNER_CWL_BENCHMARK=1`` is set for the child only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKFLOWS = HERE / "workflows"


def write_dag(n: int, path: Path, seed: int = 5, window: int = 100) -> None:
    """A workflow of n steps of noop-tool.cwl; step i takes the outputs of one or two
    random steps among the ``window`` before it (merged into one string list)."""
    rng = random.Random(seed)
    tool = WORKFLOWS / "noop-tool.cwl"
    lines = [
        "cwlVersion: v1.2",
        "class: Workflow",
        "requirements:",
        "  MultipleInputFeatureRequirement: {}",
        "  StepInputExpressionRequirement: {}",
        "inputs:",
        "  seed: string",
        "outputs:",
        f"  last: {{type: string, outputSource: s{n - 1}/out}}",
        "steps:",
    ]
    for i in range(n):
        if i == 0:
            sources = ["seed"]
        else:
            low = max(0, i - window)
            sources = sorted({f"s{rng.randrange(low, i)}/out" for _ in range(rng.choice((1, 2)))})
        lines += [
            f"  s{i}:",
            f"    run: {tool}",
            "    in:",
            f"      message: {{source: [{', '.join(sources)}], linkMerge: merge_flattened, valueFrom: 's{i}'}}",
            "    out: [out]",
        ]
    path.write_text("\n".join(lines) + "\n")


class Progress(threading.Thread):
    """Samples the done journal's line count while the run goes on."""

    def __init__(self, journal: Path) -> None:
        super().__init__(daemon=True)
        self.journal = journal
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        count, handle = 0, None
        while not self.stop.is_set():
            if handle is None and self.journal.exists():
                handle = open(self.journal, "rb")
            if handle is not None:
                count += handle.read().count(b"\n")
            self.samples.append((time.perf_counter(), count))
            self.stop.wait(0.1)


def rate_around(samples: list[tuple[float, int]], jobs: int, fraction: float, span: float = 0.05) -> float | None:
    """Jobs/s while the jobs done went from fraction-span to fraction+span of all."""
    lo, hi = jobs * max(0.0, fraction - span), jobs * min(1.0, fraction + span)
    first = next((s for s in samples if s[1] >= lo), None)
    last = next((s for s in samples if s[1] >= hi), None)
    if first is None or last is None or last[0] <= first[0]:
        return None
    return (last[1] - first[1]) / (last[0] - first[0])


def run(workflow: Path, inputs: list[str], jobs: int) -> dict[str, object]:
    exe = shutil.which("runner-cwl", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    with tempfile.TemporaryDirectory(prefix="noop-bench-") as tmp:
        store = Path(tmp) / "store"
        cmd = [exe or "runner-cwl", "--quiet", "--batch-system", "noop", "--jobstore", str(store)]
        cmd += ["--outdir", str(Path(tmp) / "out"), str(workflow), *inputs]
        progress = Progress(store / "done" / "journal.jsonl")
        started = time.perf_counter()
        progress.start()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "RUNNER_CWL_BENCHMARK": "1"}
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        progress.stop.set()
        progress.join()
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        print(f"  failed: {stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    samples = progress.samples
    done = samples[-1][1] if samples else 0
    first = next((t for t, c in samples if c > 0), started)
    result: dict[str, object] = {
        "jobs": jobs,
        "recorded": done,
        "wall_s": round(wall, 2),
        "start_s": round(first - started, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "jobs_per_s": round(done / (samples[-1][0] - first), 1) if done and samples[-1][0] > first else None,
    }
    for fraction in (0.1, 0.5, 0.9):
        rate = rate_around(samples, done, fraction)
        result[f"jobs_per_s_at_{int(fraction * 100)}%"] = round(rate, 1) if rate else None
    rate = result["jobs_per_s"]
    result["job_events_per_s"] = round(2 * rate, 1) if isinstance(rate, float) else None
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shape", choices=["scatter", "dag"])
    parser.add_argument("sizes", nargs="+", type=int)
    args = parser.parse_args()
    for n in args.sizes:
        if args.shape == "scatter":
            result = run(WORKFLOWS / "noop-scatter.cwl", ["--count", str(n)], n)
        else:
            with tempfile.TemporaryDirectory(prefix="noop-dag-") as tmp:
                path = Path(tmp) / f"dag-{n}.cwl"
                write_dag(n, path)
                result = run(path, ["--seed", "x"], n)
        print(json.dumps({"shape": args.shape, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

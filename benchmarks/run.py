#!/usr/bin/env python3
"""Measure runner-cwl beside the machine's floor and, when installed, cwltool and
toil-cwl-runner, on the same workflows in one run; print a table of wall time,
leader peak RSS and ratio to the floor.

    python benchmarks/run.py                       # the default workloads
    python benchmarks/run.py --scatter 100 1000    # only these scatter sizes
    python benchmarks/run.py --large               # also the 10,000-way scatter (runner-cwl only)
    python benchmarks/run.py --repeat 3            # each wall the minimum of 3 runs (a busy machine)
    python benchmarks/run.py --tmpdir /dev/shm     # every directory in memory: the disk left out
    python benchmarks/run.py --settle 35           # each measurement on a quiet disk (see below)
    python benchmarks/run.py --engines runner-cwl cwltool --markdown docs/perf-table.md
    python benchmarks/run.py --engines runner-cwl runner-cwl+slurm runner-cwl+slurm-no-arrays  # SLURM_CONF set

The floor is what the machine itself needs: N trivial processes spawned into fresh
directories with stdout to a file, as many at a time as there are cores.

The last columns give each engine's per-job cost on a scatter of N:
(wall(N) - wall(1)) / floor(N), where wall(1) is the same workflow over one item, so
start-up cancels out (issue 5's target: at most 1.5). For the leader alone at scales
no machine runs for real, see benchmarks/noop.py.

One measurement must not pay for another's clean-up. The directories this script makes
(the floor's, each engine run's inputs and --outdir) are kept until every measurement
is done. What an engine removes itself (its job store, its temporary directories) is
inside its own wall, as it is for a user; but on some filesystems creating files right
after many were removed is slower for a while (ext4 without a journal skips inodes freed
in the last 30 s: docs/performance.md, "Session 6"), which the next measurement would
pay. --settle S waits until S seconds have passed since the last engine run ended
before every measurement, the floor's included.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKFLOWS = HERE / "workflows"
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def best(times: int, measure):  # type: ignore[no-untyped-def]
    """The run with the smallest wall of ``times`` runs of ``measure()`` (a busy machine
    only ever adds time)."""
    return min((measure() for _ in range(times)), key=lambda r: r if isinstance(r, float) else r[0])


class Scratch:
    """Where the measurements' directories go, all removed at the end, and the quiet
    time kept before each measurement (--settle)."""

    def __init__(self, settle: float = 0.0) -> None:
        self.root = tempfile.mkdtemp(prefix="runner-cwl-bench-")
        self.settle = settle
        self._engine_ended = 0.0

    def directory(self, prefix: str) -> str:
        return tempfile.mkdtemp(prefix=prefix, dir=self.root)

    def quiet(self) -> None:
        """Wait until ``settle`` seconds have passed since the last engine run ended."""
        wait = self._engine_ended + self.settle - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def engine_ended(self) -> None:
        self._engine_ended = time.monotonic()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def floor(n: int, scratch: Scratch) -> float:
    """Wall time to spawn n trivial processes into fresh dirs, CORES at a time."""
    tmp = scratch.directory("floor-")

    def one(i: int) -> None:
        job = os.path.join(tmp, str(i))
        os.mkdir(job)
        with open(os.path.join(job, "out.txt"), "wb") as out:
            subprocess.run(["echo", str(i)], stdout=out, cwd=job, check=True)

    scratch.quiet()
    started = time.perf_counter()
    with ThreadPoolExecutor(CORES) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - started


#: runner-cwl variants: extra arguments after the engine name
VARIANTS = {
    "runner-cwl+slurm": ["--batch-system", "slurm"],
    "runner-cwl+slurm-no-arrays": ["--batch-system", "slurm", "--no-slurm-arrays"],
    "runner-cwl+slurm-batch10": ["--batch-system", "slurm", "--slurm-batch-size", "10"],
}


def engine_argv(engine: str) -> list[str] | None:
    if engine in VARIANTS:
        if not os.environ.get("SLURM_CONF") and not Path("/etc/slurm/slurm.conf").exists():
            return None
        base = engine_argv("runner-cwl")
        return None if base is None else base + VARIANTS[engine]
    exe = shutil.which(engine, path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    if exe is None:
        return None
    if engine == "cwltool":
        return [exe, "--quiet", "--no-container"]
    if engine == "toil-cwl-runner":
        return [exe, "--quiet", "--no-container", "--logWarning"]
    return [exe, "--quiet", "--no-container"]


def run_engine(engine: str, workflow: Path, inputs: dict, scratch: Scratch) -> tuple[float, float, bool]:
    """Wall seconds, peak RSS (MB) of the largest process in the engine's tree, success."""
    argv = engine_argv(engine)
    assert argv is not None
    tmp = scratch.directory(f"{engine}-")
    job = Path(tmp) / "inputs.json"
    job.write_text(json.dumps(inputs))
    cmd = [*argv, "--outdir", str(Path(tmp) / "out"), str(workflow), str(job)]
    if engine == "toil-cwl-runner":
        cmd[1:1] = ["--jobStore", str(Path(tmp) / "js")]
    scratch.quiet()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    scratch.engine_ended()
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    ok = os.waitstatus_to_exitcode(status) == 0
    if not ok:
        print(f"  {engine} failed on {workflow.name}: {stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    return wall, usage.ru_maxrss / 1024, ok


def workloads(args: argparse.Namespace) -> list[tuple[str, Path, dict, int]]:
    """(label, workflow, inputs, number of jobs)"""
    items = [("single tool", WORKFLOWS / "echo.cwl", {"message": "hello"}, 1)]
    for n in args.scatter:
        items.append((f"scatter {n}", WORKFLOWS / "scatter.cwl", {"items": [str(i) for i in range(n)]}, n))
    if args.chain:
        items.append((f"chain {args.chain}", write_chain(args.chain), {"message": "x"}, args.chain))
    if args.wide:
        items.append(
            (
                f"{args.wide}-way x 4-step subworkflow",
                WORKFLOWS / "wide-deep.cwl",
                {"items": [str(i) for i in range(args.wide)]},
                args.wide * 4,
            )
        )
    return items


def write_chain(n: int) -> Path:
    """A workflow of n dependent steps, each passing a string on."""
    path = Path(tempfile.gettempdir()) / f"runner-cwl-bench-chain-{n}.cwl"
    steps = []
    for i in range(n):
        source = "message" if i == 0 else f"s{i - 1}/out"
        steps.append(f"  s{i}:\n    run: {WORKFLOWS / 'pass.cwl'}\n    in: {{message: {source}}}\n    out: [out]\n")
    path.write_text(
        "cwlVersion: v1.2\nclass: Workflow\ninputs:\n  message: string\n"
        f"outputs:\n  out: {{type: string, outputSource: s{n - 1}/out}}\nsteps:\n" + "".join(steps)
    )
    return path


def compile_bytecode() -> None:
    """Byte-compile runner-cwl's modules, as pip does when it installs a wheel: an
    editable install (this checkout) under PYTHONDONTWRITEBYTECODE would compile
    them again on every start (~40 ms of each run)."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("cwl_runner")
    if spec is not None and spec.origin:
        compileall.compile_dir(os.path.dirname(spec.origin), quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", nargs="+", default=["runner-cwl", "cwltool", "toil-cwl-runner"])
    parser.add_argument("--scatter", nargs="*", type=int, default=[1, 100, 1000])
    parser.add_argument(
        "--large", action="store_true", help="add the 10,000-way scatter (cwltool: skipped, see --cwltool-max-jobs)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="run each measurement N times, keep the fastest")
    parser.add_argument("--chain", type=int, default=200)
    parser.add_argument("--wide", type=int, default=50)
    parser.add_argument(
        "--cwltool-max-jobs",
        type=int,
        default=1000,
        help="skip other engines on workloads with more jobs (cwltool grows quadratically)",
    )
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument(
        "--tmpdir",
        help="where the floor's and every engine's directories go (default: the system's temporary "
        "directory); e.g. /dev/shm to leave the disk out of both",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before every measurement, wait until SECONDS have passed since the last engine run "
        "ended (its clean-up), so that none pays for the last one's removals; 35 for ext4 without "
        "a journal (default: 0)",
    )
    parser.add_argument(
        "--slurm-workloads",
        nargs="*",
        default=["scatter 1000"],
        help="workloads to run through Slurm when an engine runner-cwl+slurm... is asked for and SLURM_CONF is set",
    )
    args = parser.parse_args()
    if args.tmpdir:  # the floor's directories (tempfile) and the engines' (TMPDIR)
        os.makedirs(args.tmpdir, exist_ok=True)
        tempfile.tempdir = os.environ["TMPDIR"] = os.path.abspath(args.tmpdir)
    if args.large and 10000 not in args.scatter:
        args.scatter.append(10000)
    if args.scatter and 1 not in args.scatter:
        args.scatter.insert(0, 1)  # wall(1), for the per-job cost
    engines = [e for e in args.engines if engine_argv(e) is not None]
    if any(e.startswith("runner-cwl") for e in engines):
        compile_bytecode()
    missing = sorted(set(args.engines) - set(engines))
    if missing:
        print(f"not installed, skipped: {', '.join(missing)}", file=sys.stderr)
    rows = []
    header = (
        ["workload", "jobs", "floor (s)"]
        + [f"{e} (s)" for e in engines]
        + [f"{e} RSS (MB)" for e in engines]
        + [f"{e} / floor" for e in engines]
        + [f"{e} per-job cost" for e in engines]
    )
    scatter_one: dict[str, float] = {}
    scratch = Scratch(args.settle)
    try:
        measure(args, engines, scratch, scatter_one, rows)
    finally:
        scratch.remove()
    table = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
    table += "".join("| " + " | ".join(r) + " |\n" for r in rows)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table)
    return 0


def measure(
    args: argparse.Namespace, engines: list[str], scratch: Scratch, scatter_one: dict[str, float], rows: list
) -> None:
    """Every workload: the floor, then each engine; one row each into ``rows``."""
    for label, workflow, inputs, jobs in workloads(args):
        base = best(args.repeat, lambda: floor(jobs, scratch))  # noqa: B023
        walls, rss = {}, {}
        per_job: dict[str, str] = {}
        for engine in engines:
            if not engine.startswith("runner-cwl") and jobs > args.cwltool_max_jobs:
                continue
            if engine in VARIANTS and label not in args.slurm_workloads:
                continue
            wall, peak, ok = best(args.repeat, lambda: run_engine(engine, workflow, inputs, scratch))  # noqa: B023
            walls[engine] = f"{wall:.2f}" if ok else f"{wall:.2f} (failed)"
            rss[engine] = f"{peak:.0f}"
            if label == "scatter 1":
                scatter_one[engine] = wall
            elif label.startswith("scatter ") and engine in scatter_one and ok:
                per_job[engine] = f"{(wall - scatter_one[engine]) / base:.2f}"
            print(f"{label}: {engine} {wall:.2f} s, {peak:.0f} MB (floor {base:.2f} s)", file=sys.stderr, flush=True)
        row = [label, str(jobs), f"{base:.2f}"]
        row += [walls.get(e, "–") for e in engines] + [rss.get(e, "–") for e in engines]
        row += [f"{float(walls[e].split()[0]) / base:.1f}" if e in walls and base >= 0.01 else "–" for e in engines]
        row += [per_job.get(e, "–") for e in engines]
        rows.append(row)


if __name__ == "__main__":
    sys.exit(main())

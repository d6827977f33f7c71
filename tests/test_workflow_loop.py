"""The workflow step loop looks only at steps whose sources changed: same results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import runner_cwl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from noop import write_dag  # noqa: E402

from cwl_runner.jobstore import LocalJobStore  # noqa: E402
from cwl_runner.reuse import load_done  # noqa: E402


def test_a_random_dag_runs_every_step_once_in_dependency_order(tmp_path):
    workflow = tmp_path / "dag.cwl"
    write_dag(40, workflow, seed=11, window=6)
    store = tmp_path / "store"
    run = runner_cwl(
        "--clean", "never", "--jobstore", str(store), "--outdir", str(tmp_path / "out"), str(workflow), "--seed", "x"
    )
    assert run.returncode == 0, run.stderr
    assert run.json() == {"last": "s39"}
    outputs = sorted(json.loads(v)["out"] for v in load_done(LocalJobStore(str(store), create=False)).values())
    assert outputs == sorted(f"s{i}" for i in range(40))

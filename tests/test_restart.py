"""Nothing lost, nothing redone: kill the leader anywhere, restart, same outputs."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import DATA, runner_cwl

from cwl_runner.jobstore import LocalJobStore
from cwl_runner.reuse import load_done

JOBS = 100  # values: the workflow runs 2 x JOBS jobs


def _leader(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cwl_runner.cli", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _outputs(outdir: Path, printed: str) -> tuple[list[str], list[bytes]]:
    out = json.loads(printed)
    return out["texts"], [Path(f["path"]).read_bytes() for f in out["files"]]


def _recorded(store: Path) -> set[str]:
    return {json.loads(outputs)["text"] for outputs in load_done(LocalJobStore(str(store), create=False)).values()}


def test_killed_anywhere_restart_finishes_with_the_same_outputs(tmp_path):
    rng = random.Random(20261123)
    inputs = tmp_path / "in.json"

    def job_file(log: Path) -> Path:
        inputs.write_text(json.dumps({"values": [str(i) for i in range(JOBS)], "log": str(log)}))
        return inputs

    reference = runner_cwl(
        "--quiet", "--outdir", str(tmp_path / "ref"), str(DATA / "crash.cwl"), str(job_file(tmp_path / "ref.log"))
    )
    assert reference.returncode == 0, reference.stderr
    expected = _outputs(tmp_path / "ref", reference.stdout)

    survived = reused_total = 0
    for attempt in range(20):
        store, log, outdir = tmp_path / f"store{attempt}", tmp_path / f"log{attempt}", tmp_path / f"out{attempt}"
        leader = _leader("--jobstore", str(store), "--outdir", str(outdir), str(DATA / "crash.cwl"), str(job_file(log)))
        # a random point of progress: after the k-th line of the side channel (each job
        # writes a start and an end line), so every kill lands while the run is going on
        kill_after = rng.randint(1, 4 * JOBS - 1)
        deadline = time.monotonic() + 120
        while leader.poll() is None and time.monotonic() < deadline:
            if log.exists() and log.read_bytes().count(b"\n") >= kill_after:
                break
            time.sleep(0.002)
        leader.send_signal(signal.SIGKILL)
        stdout, _ = leader.communicate(timeout=60)
        if leader.returncode == 0:  # it finished before the kill
            assert _outputs(outdir, stdout) == expected
            continue
        if not (store / "run.json").exists():  # killed before it began
            continue
        finished = _recorded(store)
        lines_before = len(log.read_text().splitlines()) if log.exists() else 0
        restart = runner_cwl(
            "--quiet",
            "--restart",
            "--jobstore",
            str(store),
            "--outdir",
            str(outdir),
            str(DATA / "crash.cwl"),
            str(inputs),
        )
        assert restart.returncode == 0, restart.stderr
        assert _outputs(outdir, restart.stdout) == expected, f"attempt {attempt}: outputs differ"
        rerun = {line.split()[1] for line in log.read_text().splitlines()[lines_before:] if line.startswith("start")}
        assert not rerun & finished, f"attempt {attempt}: finished jobs ran again: {sorted(rerun & finished)[:5]}"
        assert len(finished) + len(rerun) >= 2 * JOBS
        survived += 1
        reused_total = reused_total + len(finished)
    print(f"crash test: {survived} of 20 SIGKILLs landed mid-run; every restart finished with identical outputs; "
          f"{reused_total} recorded jobs reused, none ran again")  # fmt: skip
    assert survived >= 18, f"only {survived} of 20 kills landed mid-run"


def test_after_an_edit_only_the_changed_step_and_its_downstream_run(tmp_path):
    log = tmp_path / "log"
    workflow = tmp_path / "chain3.cwl"
    workflow.write_text((DATA / "chain3.cwl").read_text())
    (tmp_path / "counted.cwl").write_text((DATA / "counted.cwl").read_text())
    store = tmp_path / "store"
    first = runner_cwl(
        "--clean", "never", "--jobstore", str(store), "--outdir", str(tmp_path / "o1"), str(workflow), "--log", str(log)
    )
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["text"] == "cba0"
    before = len(log.read_text().splitlines())
    workflow.write_text(workflow.read_text().replace("prefix: {default: b}", "prefix: {default: B}"))
    second = runner_cwl(
        "--restart",
        "--clean",
        "never",
        "--jobstore",
        str(store),
        "--outdir",
        str(tmp_path / "o2"),
        str(workflow),
        "--log",
        str(log),
    )
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["text"] == "cBa0"
    started = [line.split()[1] for line in log.read_text().splitlines()[before:] if line.startswith("start")]
    assert started == ["Ba0", "cBa0"], started
    assert "reused 1" in runner_cwl("status", str(store)).stdout


def file_chain_edit(tmp_path: Path, store: str, run, env: dict[str, str] | None = None) -> None:
    """Run a 3-step chain passing a File, edit the last step, restart: only it runs again."""
    log = tmp_path / "log"
    start = tmp_path / "start.txt"
    start.write_text("0")
    workflow = tmp_path / "filechain.cwl"
    workflow.write_text((DATA / "filechain.cwl").read_text())
    (tmp_path / "appendf.cwl").write_text((DATA / "appendf.cwl").read_text())
    common = ["--clean", "never", "--jobstore", store]
    first = run(
        *common, "--outdir", str(tmp_path / "o1"), str(workflow), "--start", str(start), "--log", str(log), env=env
    )
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "o1" / "out.txt").read_text() == "0abc"
    before = len(log.read_text().splitlines())
    workflow.write_text(workflow.read_text().replace("tag: {default: c}", "tag: {default: C}"))
    second = run(
        "--restart",
        *common,
        "--outdir",
        str(tmp_path / "o2"),
        str(workflow),
        "--start",
        str(start),
        "--log",
        str(log),
        env=env,
    )
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "o2" / "out.txt").read_text() == "0abC"
    started = [line.split()[1] for line in log.read_text().splitlines()[before:] if line.startswith("start")]
    assert started == ["C"], started


def test_jobs_taking_files_are_reused_after_an_edit(tmp_path):
    """Staged inputs live in random folders; the job key names them by their input."""
    file_chain_edit(tmp_path, str(tmp_path / "store"), runner_cwl)


def test_cachedir_reuses_jobs_across_runs(tmp_path):
    """--cachedir (cwltool's meaning): a second run with the same cache runs nothing
    unchanged, and after an edit only the edited step and what follows."""
    log = tmp_path / "log"
    start = tmp_path / "start.txt"
    start.write_text("0")
    workflow = tmp_path / "filechain.cwl"
    workflow.write_text((DATA / "filechain.cwl").read_text())
    (tmp_path / "appendf.cwl").write_text((DATA / "appendf.cwl").read_text())
    cache = tmp_path / "cache"

    def run(n: int) -> list[str]:
        before = len(log.read_text().splitlines()) if log.exists() else 0
        out = tmp_path / f"o{n}"
        done = runner_cwl(
            "--cachedir", str(cache), "--outdir", str(out), str(workflow), "--start", str(start), "--log", str(log)
        )
        assert done.returncode == 0, done.stderr
        assert (out / "out.txt").exists()
        return [line.split()[1] for line in log.read_text().splitlines()[before:] if line.startswith("start")]

    assert run(1) == ["a", "b", "c"]
    assert run(2) == []
    assert (tmp_path / "o2" / "out.txt").read_text() == "0abc"
    workflow.write_text(workflow.read_text().replace("tag: {default: b}", "tag: {default: B}"))
    assert run(3) == ["B", "c"]
    assert (tmp_path / "o3" / "out.txt").read_text() == "0aBc"

"""What users see: per-job measurements, the event log, the HTML report (opened in
headless Chromium), --stats, the live display (in a real terminal, tmux), the plain
progress lines, and per-job logs.

Screenshots and terminal captures go to $RUNNER_TEST_ARTIFACTS (default
tests/artifacts/), so a person can look at them after the run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import DATA, ROOT

from cwl_runner.events import EVENTS_KEY
from cwl_runner.job import JobRecord, JobResult
from cwl_runner.report import lanes, render_html, step_stats
from cwl_runner.worker import execute

ARTIFACTS = Path(os.environ.get("RUNNER_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
SCATTER = ["--seconds", "1", "--seconds", "0.5", "--seconds", "1.5", "--seconds", "0.3", "--seconds", "0.8"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no headless Chromium (apt-get install chromium; scripts/test.sh does)"
)
needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="no tmux (apt-get install tmux)")


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={ARTIFACTS / '.chromium-profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def open_in_chromium(page: Path, screenshot: str) -> str:
    """The page's DOM after its scripts ran; fails on a JavaScript error. Saves a screenshot."""
    dom = chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not [line for line in console if "Uncaught" in line or "Error" in line], console
    assert 'data-ready="1"' in dom.stdout, "the page's script did not run to its end"
    shot = artifact(screenshot)
    taken = chromium("--window-size=1280,1300", "--hide-scrollbars", f"--screenshot={shot}", page.as_uri())
    assert taken.returncode == 0 and shot.exists() and shot.stat().st_size > 10_000, taken.stderr[-2000:]
    return dom.stdout


# -- measurements -----------------------------------------------------------------------
def test_worker_measures_cpu_and_peak_memory(tmp_path):
    script = "a = bytearray(150 * 2**20)\nimport time\nt = time.process_time()\n"
    script += "while time.process_time() - t < 0.4:\n    pass"
    record = JobRecord(id="1", name="hog", argv=[sys.executable, "-c", script], env=dict(os.environ), cwd=str(tmp_path))
    result = execute(record)
    assert result.exit_code == 0
    assert result.cpu_user + result.cpu_system >= 0.35
    assert result.peak_rss >= 150 * 2**20


def test_peak_memory_sums_the_process_tree(tmp_path):
    child = f"{sys.executable} -c 'a = bytearray(80 * 2**20); import time; time.sleep(2.5)'"
    record = JobRecord(
        id="1", name="pair", argv=["sh", "-c", f"{child} & {child}; wait"], env=dict(os.environ), cwd=str(tmp_path)
    )
    result = execute(record)
    assert result.exit_code == 0
    # each process alone peaks at ~90 MiB: only the sampled sum over the tree sees both
    assert result.peak_rss >= 160 * 2**20, result


def test_results_without_measurements_still_load():
    old = b'{"id":"1","exit_code":0,"started":1.0,"ended":2.0,"error":null,"timed_out":false}'
    assert JobResult.from_json(old) == JobResult("1", 0, 1.0, 2.0)
    newer = b'{"id":"1","exit_code":0,"cpu_user":1.5,"some_future_field":3}'
    assert JobResult.from_json(newer).cpu_user == 1.5


def test_time_limit_still_measured_and_logged(tmp_path):
    record = JobRecord(
        id="7",
        name="slow",
        argv=["sh", "-c", "echo working; sleep 30"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=str(tmp_path),
        timelimit=1,
        log=str(tmp_path / "slow.log"),
    )
    started = time.monotonic()
    result = execute(record)
    assert time.monotonic() - started < 10
    assert result.timed_out and result.exit_code < 0
    assert result.peak_rss > 0
    log = (tmp_path / "slow.log").read_text()
    assert log.startswith("# runner-cwl job 7 (slow)")
    assert "# command: sh -c 'echo working; sleep 30'" in log
    assert "working\n" in log
    assert "time limit of 1 s exceeded" in log.splitlines()[-1]


# -- the report's pieces ----------------------------------------------------------------
def test_lanes_never_overlap():
    jobs = [{"started": 100 + s, "ended": 100 + e} for s, e in [(0, 5), (1, 2), (2, 3), (2.5, 4), (5, 6), (9, 10)]]
    placed, count = lanes(jobs)
    assert count == 3
    for a, lane_a in placed:
        for b, lane_b in placed:
            if a is not b and lane_a == lane_b:
                assert a["ended"] <= b["started"] or b["ended"] <= a["started"]


def test_report_escapes_what_it_shows():
    doc = {
        "workflow": "file:///x/<script>alert(1)</script>.cwl",
        "status": "permanentFail",
        "started": 1.0,
        "ended": 3.0,
        "jobs": [
            {
                "id": "1",
                "step": "<b>s</b>",
                "status": "permanentFail",
                "started": 1.0,
                "ended": 2.0,
                "exit_code": 2,
                "command": "echo '</script><script>alert(2)</script>'",
                "cpu": 0.5,
                "peak_rss": 2**20,
            }
        ],
    }
    page = render_html(doc)
    assert "<script>alert" not in page
    assert page.count('class="job-bar failed"') == 1
    assert step_stats(doc)[0]["failed"] == 1


# -- a whole run ------------------------------------------------------------------------
@needs_chromium
def test_report_of_a_scatter_run(run_cwl, tmp_path):
    store, logs, page = tmp_path / "store", tmp_path / "logs", tmp_path / "report.html"
    result = run_cwl(
        "--jobstore", str(store), "--keep-jobstore", "--report", str(page), "--stats",
        "--log-dir", str(logs), "--outdir", str(tmp_path / "out"),
        str(DATA / "scatter-gather.cwl"), *SCATTER,
        env={"RUNNER_CWL_PROGRESS_INTERVAL": "0.5"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]

    # the event log in the job store: one entry per job, measured
    doc = json.loads((store / EVENTS_KEY).read_text())
    assert doc["status"] == "success" and doc["ended"] >= doc["started"]
    jobs = doc["jobs"]
    assert sorted((j["step"], j["scatter_index"]) for j in jobs) == [("gather", None)] + [("work", i) for i in range(5)]
    for job in jobs:
        assert job["status"] == "success" and job["exit_code"] == 0
        assert job["submitted"] <= job["started"] < job["ended"]
        assert job["cpu"] > 0
        if job["step"] == "work":  # python sleeping 0.3 s or more: sampled ('cat' may end before any sample)
            assert job["peak_rss"] > 4 * 2**20, job
        assert job["command"] and os.path.exists(job["log"])

    # per-job logs: step and scatter index in the name; command, output and exit reason inside
    names = sorted(p.name for p in logs.glob("*.log"))
    assert len(names) == 6
    for i in range(5):
        assert len([n for n in names if re.fullmatch(rf"work\.{i}\.\d+\.log", n)]) == 1, names
    assert len([n for n in names if re.fullmatch(r"gather\.\d+\.log", n)]) == 1, names
    work0 = (logs / next(n for n in names if n.startswith("work.0."))).read_text()
    assert "# command: python3 -c " in work0 and work0.rstrip().endswith("peak memory " + work0.split()[-2] + " MiB)")
    assert "exit code 0" in work0

    # plain progress lines (stderr is not a terminal) and the --stats table
    progress = [line for line in result.stderr.splitlines() if "progress: " in line]
    assert progress and "jobs: 6 done, 0 running, 0 queued, 0 failed" in progress[-1]
    assert "steps: work 5/5, gather 1/1" in progress[-1]
    stats = [line for line in result.stderr.splitlines() if line.startswith("│")]
    assert re.search(r"│ work\s+│\s+5 │\s+0 │", stats[0]), stats
    assert re.search(r"│ gather\s+│\s+1 │\s+0 │", stats[1]), stats
    assert f"Run report: {page}" in result.stderr

    # the page, opened in a real browser: no script error, one bar per job
    dom = open_in_chromium(page, "report-scatter.png")
    assert dom.count('class="job-bar"') == 6
    assert len(re.findall(r'class="job-bar"[^>]*data-step="work"', dom)) == 5
    assert 'id="run-status">success<' in dom
    assert dom.count('class="step-row"') == 2
    assert "http://" not in page.read_text() and "https://" not in page.read_text(), "no network needed"

    # the same report after the fact, from the kept job store
    again = tmp_path / "again.html"
    rendered = run_cwl("report", str(store), "-o", str(again), "--stats")
    assert rendered.returncode == 0, rendered.stderr
    assert "6 jobs, success" in rendered.stdout
    assert again.read_text().count('class="job-bar"') == 6
    assert "gather" in rendered.stderr


@needs_chromium
def test_report_of_a_failed_run(run_cwl, tmp_path):
    store, page = tmp_path / "store", tmp_path / "failed.html"
    result = run_cwl(
        "--jobstore", str(store), "--report", str(page), "--outdir", str(tmp_path / "out"),
        str(DATA / "partial-failure.cwl"),
    )  # fmt: skip
    assert result.returncode == 1
    assert f"Run report: {page}" in result.stderr
    dom = open_in_chromium(page, "report-failed.png")
    assert 'id="run-status">permanentFail<' in dom
    failures = dom[dom.index('id="failures"') :]
    assert "Failures (1)" in failures and "exit code 3" in failures and "the real reason" in failures
    assert dom.count("job-bar") >= 3
    # the failed run's store is kept: the report can be rendered again from it
    rendered = run_cwl("report", str(store), "-o", str(tmp_path / "again.html"))
    assert rendered.returncode == 0 and "permanentFail" in rendered.stdout


def test_report_subcommand_errors(run_cwl, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cwl("report", str(empty))
    assert result.returncode == 1 and "holds no event log" in result.stderr
    assert "Traceback" not in result.stderr


def test_quiet_shows_no_progress(run_cwl, tmp_path):
    result = run_cwl("--quiet", "--outdir", str(tmp_path), str(DATA / "scatter-gather.cwl"), "--seconds", "0.1")
    assert result.returncode == 0, result.stderr
    assert "progress" not in result.stderr and "elapsed" not in result.stderr


# -- the live display in a real terminal --------------------------------------------------
def _tmux_run(tmp_path: Path, command: str, name: str) -> str:
    """Run ``command`` in a new 110x40 tmux window until it ends; the whole screen with its scrollback."""
    session = f"runner-cwl-test-{uuid.uuid4().hex[:8]}"
    done = tmp_path / f"{name}.exit"
    script = tmp_path / f"{name}.sh"
    script.write_text(f"{command} >{tmp_path}/{name}.stdout; echo $? > {done}.tmp; mv {done}.tmp {done}; sleep 600\n")
    env_path = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "110", "-y", "40", "-e", f"PATH={env_path}",
         "-e", "TERM=xterm-256color", f"bash {script}"],
        check=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        midrun = False
        while not done.exists() and time.monotonic() < deadline:
            if not midrun:  # one picture while jobs run, for people to look at
                shown = subprocess.run(
                    ["tmux", "capture-pane", "-p", "-e", "-t", session], capture_output=True, text=True
                ).stdout
                if re.search(r"\d+ running", shown) and not re.search(r" 0 running", shown):
                    midrun = True
                    artifact(f"{name}-midrun.ansi").write_text(shown)
                    _terminal_picture(shown, f"{name}-midrun")
            time.sleep(0.2)
        assert done.exists(), "the run did not end in 180 s"
        screen = subprocess.run(
            ["tmux", "capture-pane", "-p", "-J", "-S", "-", "-t", session], capture_output=True, text=True, check=True
        ).stdout
        coloured = subprocess.run(
            ["tmux", "capture-pane", "-p", "-e", "-S", "-", "-t", session], capture_output=True, text=True, check=True
        ).stdout
        artifact(f"{name}.txt").write_text(screen)
        artifact(f"{name}.ansi").write_text(coloured)
        _terminal_picture(coloured, name)
        assert done.read_text().strip() == "0", screen[-3000:]
        return screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def _terminal_picture(ansi: str, name: str) -> None:
    """The captured screen's last 40 lines as a picture (rich's SVG, and a PNG when Chromium is here)."""
    from rich.console import Console
    from rich.text import Text

    with open(os.devnull, "w") as sink:
        console = Console(record=True, width=120, file=sink, force_terminal=True)
        console.print(Text.from_ansi("\n".join(ansi.rstrip().splitlines()[-40:])))
    svg = artifact(f"{name}.svg")
    console.save_svg(str(svg), title=f"runner-cwl: {name}")
    if CHROMIUM is not None:
        png = artifact(f"{name}.png")
        chromium("--window-size=1400,1000", "--hide-scrollbars", f"--screenshot={png}", svg.as_uri())


@needs_tmux
def test_live_display_in_a_terminal(tmp_path):
    runner = shutil.which("runner-cwl", path=os.path.dirname(sys.executable)) or f"{sys.executable} -m cwl_runner.cli"
    screen = _tmux_run(
        tmp_path,
        f"{runner} --outdir {tmp_path}/out {DATA / 'scatter-gather.cwl'} " + " ".join(SCATTER),
        "live-display",
    )
    lines = screen.rstrip().splitlines()
    # the display is redrawn in place: one copy of it, below every log line, whatever was logged meanwhile
    assert sum("elapsed " in line for line in lines) == 1, screen
    end = max(i for i, line in enumerate(lines) if "Final process status is success" in line)
    table = lines[:end]
    header = max(i for i, line in enumerate(table) if re.match(r"^step\s+done\s+queued\s+running\s+failed", line))
    work, gather, summary = table[header + 1 : header + 4]
    assert re.match(r"^work\s+━+\s+5/5\s+0\s+0\s+0$", work), work
    assert re.match(r"^gather\s+1/1\s+0\s+0\s+0$", gather), gather
    assert re.match(r"^elapsed 0:00:\d\d \| jobs: 6 done, 0 running, 0 queued, 0 failed \| in use: 0/", summary)
    # log lines came out whole, above the display
    assert any(line.startswith("INFO [job gather] completed success") for line in lines[:header])
    assert all(not line.startswith("INFO") or "elapsed" not in line for line in lines)


@needs_tmux
def test_no_live_display_when_quiet(tmp_path):
    runner = shutil.which("runner-cwl", path=os.path.dirname(sys.executable)) or f"{sys.executable} -m cwl_runner.cli"
    screen = _tmux_run(
        tmp_path, f"{runner} --quiet --outdir {tmp_path}/out {DATA / 'scatter-gather.cwl'} --seconds 0.1", "quiet"
    )
    assert "elapsed" not in screen and "step " not in screen


def test_restart_keeps_the_earlier_attempts_jobs(run_cwl, tmp_path):
    store = tmp_path / "store"
    args = ["--quiet", "--jobstore", str(store), "--outdir", str(tmp_path / "out"), str(DATA / "partial-failure.cwl")]
    assert run_cwl(*args).returncode == 1
    again = run_cwl("--restart", "--report", str(tmp_path / "r.html"), *args)
    assert again.returncode == 1
    doc = json.loads((store / EVENTS_KEY).read_text())
    assert doc["attempt"] == 2 and doc["reused"] == 2
    assert sorted((j["attempt"], j["step"]) for j in doc["jobs"]) == [
        (1, "after_good"), (1, "bad"), (1, "slow_good"), (2, "bad"),
    ]  # fmt: skip
    assert (tmp_path / "r.html").read_text().count('class="job-bar') == 4


def test_a_retried_job_is_one_entry_with_its_tries(run_cwl, tmp_path):
    store = tmp_path / "store"
    result = run_cwl(
        "--quiet", "--retry-count", "2", "--keep-jobstore", "--jobstore", str(store), "--outdir", str(tmp_path / "o"),
        str(DATA / "flaky.cwl"), "--mode", "exit1", "--state", str(tmp_path / "count"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (job,) = json.loads((store / EVENTS_KEY).read_text())["jobs"]
    assert job["status"] == "success" and job["tries"] == 2 and job["exit_code"] == 0
    log = Path(job["log"]).read_text()
    assert "attempt 1 fails: exit1" in log and log.rstrip().splitlines()[-1].startswith("# ended after")


def test_the_event_log_is_written_in_chunks_as_json_dumps_writes_it(tmp_path):
    import io
    import random

    from cwl_runner.events import dump_in_chunks

    rng = random.Random(1)
    for size in (0, 1, 999, 1000, 1001, 2500):
        doc = {
            "format": 1,
            "workflow": "w \u00e9",
            "errors": [],
            "jobs": [{"id": str(i), "cpu": rng.random(), "log": None, "cmd": 'a "b" \\ c'} for i in range(size)],
            "limits": {"cores": 2},
        }
        handle = io.BytesIO()
        dump_in_chunks(doc, handle)
        assert handle.getvalue() == json.dumps(doc, separators=(",", ":")).encode(), size

"""The run report: one self-contained HTML file, and the per-step table.

Rendered from the run's event log (``events.py``, ``report/jobs.json`` in the
job store): at the end of a run (``--report FILE``, ``--stats``) or after it
(``runner-cwl report JOBSTORE``). The page needs no network: CSS and the few
lines of JavaScript (tooltips, highlighting a step, sorting a table) are
inline, and it reads in full without JavaScript. Each job of the timeline is
one ``div.job-bar``.
"""

from __future__ import annotations

import heapq
import html
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from . import failures as failure_summary

#: Tableau 10: distinct and readable on white
PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#e15759",
]
MAX_JOB_ROWS = 5000
MAX_FAILURES = 20


# -- numbers ------------------------------------------------------------------------
def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h {int(seconds // 60 % 60):02d}m"


def size(nbytes: float | None) -> str:
    if not nbytes:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"  # pragma: no cover


def clock(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else "-"


def _wall(job: dict[str, Any]) -> float | None:
    if job.get("started") and job.get("ended"):
        return max(0.0, float(job["ended"]) - float(job["started"]))
    return None


# -- the tables ---------------------------------------------------------------------
def step_stats(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per step, in order of first submission: jobs, failures, wall, CPU, memory."""
    steps: dict[str, dict[str, Any]] = {}
    for job in doc.get("jobs", []):
        row = steps.setdefault(
            job.get("step") or "?",
            {"step": job.get("step") or "?", "jobs": 0, "failed": 0, "walls": [], "cpus": [], "rss": []},
        )
        row["jobs"] += 1
        if job.get("status") != "success":
            row["failed"] += 1
        wall = _wall(job)
        if wall is not None:
            row["walls"].append(wall)
        if job.get("cpu") is not None:
            row["cpus"].append(float(job["cpu"]))
        if job.get("peak_rss"):
            row["rss"].append(int(job["peak_rss"]))
    for error in doc.get("errors", []):
        row = steps.setdefault(
            error.get("step") or "?",
            {"step": error.get("step") or "?", "jobs": 0, "failed": 0, "walls": [], "cpus": [], "rss": []},
        )
        row["jobs"] += 1
        row["failed"] += 1
    rows = []
    for row in steps.values():
        walls, cpus, rss = row.pop("walls"), row.pop("cpus"), row.pop("rss")
        row.update(
            wall_total=sum(walls) if walls else None,
            wall_mean=sum(walls) / len(walls) if walls else None,
            wall_max=max(walls) if walls else None,
            cpu_total=sum(cpus) if cpus else None,
            cpu_mean=sum(cpus) / len(cpus) if cpus else None,
            rss_max=max(rss) if rss else None,
            rss_mean=sum(rss) / len(rss) if rss else None,
        )
        rows.append(row)
    return rows


STAT_COLUMNS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("step", "step", str),
    ("jobs", "jobs", str),
    ("failed", "failed", str),
    ("wall_total", "wall total", duration),
    ("wall_mean", "wall mean", duration),
    ("wall_max", "wall max", duration),
    ("cpu_total", "CPU total", duration),
    ("cpu_mean", "CPU mean", duration),
    ("rss_max", "peak memory", size),
    ("rss_mean", "peak memory mean", size),
]


def print_stats(doc: dict[str, Any], file: Any = None) -> None:
    """The per-step table on the terminal (stderr by default)."""
    from rich.console import Console
    from rich.table import Table

    stream = file or sys.stderr
    console = Console(file=stream, stderr=file is None)
    if not console.is_terminal:  # a file or a pipe: no need to fit 80 columns
        console = Console(file=stream, width=200)
    table = Table(title=f"runner-cwl: {_title(doc)} ({doc.get('status')}, {duration(_run_wall(doc))})")
    for key, label, _ in STAT_COLUMNS:
        table.add_column(label, justify="left" if key == "step" else "right", no_wrap=True, min_width=len(label))
    for row in step_stats(doc):
        table.add_row(*(fmt(row[key]) if row[key] is not None else "-" for key, _, fmt in STAT_COLUMNS))
    console.print(table)


def failures(doc: dict[str, Any]) -> list[dict[str, Any]]:
    real = [j for j in doc.get("jobs", []) if j.get("status") not in ("success", "cancelled")]
    return real + list(doc.get("errors", []))


def _title(doc: dict[str, Any]) -> str:
    workflow = str(doc.get("workflow") or "run")
    return os.path.basename(workflow.split("#", 1)[0]) or workflow


def _run_wall(doc: dict[str, Any]) -> float | None:
    start = doc.get("started")
    end = doc.get("ended") or max((j.get("ended") or 0 for j in doc.get("jobs", [])), default=0)
    return float(end) - float(start) if start and end else None


# -- the page -----------------------------------------------------------------------
def lanes(jobs: Iterable[dict[str, Any]]) -> tuple[list[tuple[dict[str, Any], int]], int]:
    """Give each job that ran a row of the timeline: jobs that overlap never share one."""
    ran = sorted((j for j in jobs if j.get("started") and j.get("ended")), key=lambda j: float(j["started"]))
    free: list[tuple[float, int]] = []  # (ends at, lane)
    placed = []
    count = 0
    for job in ran:
        if free and free[0][0] <= float(job["started"]):
            _, lane = heapq.heappop(free)
        else:
            lane, count = count, count + 1
        heapq.heappush(free, (float(job["ended"]), lane))
        placed.append((job, lane))
    return placed, count


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:14px 24px;display:flex;align-items:center;gap:16px}
header h1{font-size:20px;margin:0;font-weight:600}
.status{padding:2px 10px;border-radius:10px;font-weight:600;font-size:13px}
.status-success{background:#2e7d32}.status-fail{background:#c62828}.status-other{background:#f9a825;color:#222}
main{padding:8px 24px 40px}
section{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:12px 16px;margin:16px 0}
h2{font-size:16px;margin:0 0 10px}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dl.summary dt{color:#666}dl.summary dd{margin:0;font-variant-numeric:tabular-nums;word-break:break-all}
.legend{display:flex;flex-wrap:wrap;gap:6px 14px;margin-bottom:8px}
.legend span{cursor:pointer;user-select:none}.legend i{display:inline-block;width:12px;height:12px;
border-radius:2px;margin-right:4px;vertical-align:-1px}
.gantt{position:relative;border-left:1px solid #999;border-bottom:1px solid #999;margin:0 0 22px;
background:repeating-linear-gradient(90deg,transparent 0,transparent 9.9%,#eee 9.9%,#eee 10%)}
.job-bar{position:absolute;border-radius:2px;min-width:2px;box-sizing:border-box;opacity:.9}
.job-bar.failed{outline:2px solid #c62828;background-image:repeating-linear-gradient(45deg,
transparent 0 3px,rgba(255,255,255,.55) 3px 6px)}
.job-bar:hover,.job-bar.hi{opacity:1;outline:2px solid #000;z-index:2}
.gantt.dim .job-bar:not(.hi){opacity:.15}
.axis{position:absolute;bottom:-20px;font-size:11px;color:#666;transform:translateX(-50%);white-space:nowrap}
.axis.end{transform:translateX(-100%)}.axis.start{transform:none}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f5f5f5;cursor:pointer}th:first-child,td:first-child{text-align:left}
td.l{text-align:left;white-space:normal;word-break:break-all}
pre{background:#263238;color:#eceff1;padding:8px;border-radius:4px;overflow:auto;max-height:300px;
white-space:pre-wrap;word-break:break-all}
.failure{border-left:4px solid #c62828;padding-left:10px;margin:10px 0}
#tip{position:fixed;pointer-events:none;background:#263238;color:#fff;padding:6px 8px;border-radius:4px;
font-size:12px;white-space:pre;display:none;z-index:10}
.muted{color:#777}
"""

_JS = """
(function(){
  var tip=document.getElementById('tip');
  document.querySelectorAll('.job-bar').forEach(function(bar){
    bar.addEventListener('mousemove',function(e){tip.textContent=bar.getAttribute('data-tip');
      tip.style.display='block';tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';});
    bar.addEventListener('mouseleave',function(){tip.style.display='none';});
  });
  var gantt=document.querySelector('.gantt');
  document.querySelectorAll('.legend span').forEach(function(item){
    item.addEventListener('click',function(){
      var step=item.getAttribute('data-step'),on=!item.classList.contains('on');
      document.querySelectorAll('.legend span').forEach(function(o){o.classList.remove('on');});
      document.querySelectorAll('.job-bar').forEach(function(b){
        b.classList.toggle('hi',on&&b.getAttribute('data-step')===step);});
      if(on){item.classList.add('on');}
      if(gantt){gantt.classList.toggle('dim',on);}
    });
  });
  document.querySelectorAll('table.sortable th').forEach(function(th,col){
    th.addEventListener('click',function(){
      var body=th.closest('table').tBodies[0],rows=Array.prototype.slice.call(body.rows);
      var asc=th.getAttribute('data-asc')!=='1';th.setAttribute('data-asc',asc?'1':'0');
      rows.sort(function(a,b){
        var x=a.cells[col].getAttribute('data-v')||a.cells[col].textContent,
            y=b.cells[col].getAttribute('data-v')||b.cells[col].textContent,
            nx=parseFloat(x),ny=parseFloat(y);
        var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?c:-c;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  document.body.setAttribute('data-ready','1');
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num_cell(value: Any, fmt: Any) -> str:
    if value is None:
        return '<td data-v="-1">-</td>'
    return f'<td data-v="{_e(value)}">{_e(fmt(value))}</td>'


def _job_label(job: dict[str, Any]) -> str:
    index = job.get("scatter_index")
    return f"{job.get('step')}[{index}]" if index is not None else str(job.get("step"))


def _tail(path: str | None, count: int = 15) -> str:
    if not path or not os.path.exists(path):
        return ""
    return "\n".join(failure_summary.tail(path, count))


def render_html(doc: dict[str, Any], run: dict[str, Any] | None = None) -> str:
    """The whole report page for the event log ``doc``."""
    jobs = list(doc.get("jobs", []))
    status = str(doc.get("status") or "unknown")
    stats = step_stats(doc)
    colours = {row["step"]: PALETTE[i % len(PALETTE)] for i, row in enumerate(stats)}
    wall = _run_wall(doc)
    ok = sum(1 for j in jobs if j.get("status") == "success")
    cancelled = sum(1 for j in jobs if j.get("status") == "cancelled")
    failed = len(failures(doc))
    cpu_total = sum(float(j.get("cpu") or 0) for j in jobs)
    peak = max((int(j.get("peak_rss") or 0) for j in jobs), default=0)
    limits = doc.get("limits") or {}
    status_class = "status-success" if status == "success" else ("status-fail" if "ail" in status else "status-other")
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>runner-cwl report: {_e(_title(doc))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<header><h1>{_e(_title(doc))}</h1><span class="status {status_class}" id="run-status">{_e(status)}</span>'
        f'<span class="muted" style="color:#b0bec5">runner-cwl run report</span></header><main>',
    ]
    # summary
    summary = [
        ("workflow", doc.get("workflow") or "-"),
        ("status", status),
        ("started", clock(doc.get("started"))),
        ("ended", clock(doc.get("ended"))),
        ("wall time", duration(wall)),
        (
            "jobs",
            f"{len(jobs) + len(doc.get('errors', []))} in all: {ok} succeeded, {failed} failed, "
            f"{cancelled} cancelled, {doc.get('reused') or 0} reused from an earlier attempt",
        ),
        ("steps", str(len(stats))),
        ("CPU time (all jobs)", duration(cpu_total)),
        ("largest peak memory", size(peak)),
        (
            "limits",
            f"{limits.get('cores', '-')} cores, {limits.get('ram', '-')} MiB RAM, {limits.get('gpus', 0)} GPUs",
        ),
        ("attempt", str(doc.get("attempt") or 1)),
        ("host", doc.get("host") or "-"),
        ("job store", doc.get("jobstore") or "-"),
    ]
    out.append('<section id="summary"><h2>Run</h2><dl class="summary">')
    out.extend(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in summary)
    out.append("</dl></section>")
    # timeline
    placed, lane_count = lanes(jobs)
    out.append(f'<section id="timeline"><h2>Timeline ({len(placed)} jobs)</h2><div class="legend">')
    out.extend(
        f'<span data-step="{_e(step)}"><i style="background:{colour}"></i>{_e(step)}</span>'
        for step, colour in colours.items()
    )
    out.append("</div>")
    if placed:
        t0 = min(float(j["started"]) for j, _ in placed)
        t1 = max(float(j["ended"]) for j, _ in placed)
        span = max(t1 - t0, 1e-3)
        lane_h = max(3, min(18, 480 // max(lane_count, 1)))
        out.append(f'<div class="gantt" style="height:{lane_count * lane_h + 2}px">')
        for job, lane in placed:
            left = (float(job["started"]) - t0) / span * 100
            width = (float(job["ended"]) - float(job["started"])) / span * 100
            queued = float(job["started"]) - float(job.get("submitted") or job["started"])
            tip = (
                f"{_job_label(job)}  job {job.get('id')}  {job.get('status')}\n"
                f"wall {duration(_wall(job))}, queued {duration(max(queued, 0))}\n"
                f"CPU {duration(job.get('cpu'))}, peak memory {size(job.get('peak_rss'))}\n"
                f"exit {job.get('exit_code')}" + (f", {job['tries']} tries" if (job.get("tries") or 1) > 1 else "")
            )
            classes = "job-bar" + ("" if job.get("status") == "success" else " failed")
            colour = colours.get(job.get("step"), "#888")
            out.append(
                f'<div class="{classes}" data-step="{_e(job.get("step"))}" data-job="{_e(job.get("id"))}" '
                f'data-tip="{_e(tip)}" title="{_e(tip)}" style="left:{left:.3f}%;width:{width:.3f}%;'
                f'top:{lane * lane_h + 1}px;height:{max(lane_h - 2, 2)}px;background-color:{colour}"></div>'
            )
        for i in range(0, 11, 2):
            where = " start" if i == 0 else (" end" if i == 10 else "")
            out.append(f'<span class="axis{where}" style="left:{i * 10}%">{_e(duration(span * i / 10))}</span>')
        out.append("</div>")
    else:
        out.append('<p class="muted">No job ran.</p>')
    out.append("</section>")
    # per-step table
    out.append('<section id="steps"><h2>Steps</h2><table class="sortable"><thead><tr>')
    out.extend(f"<th>{_e(label)}</th>" for _, label, _ in STAT_COLUMNS)
    out.append("</tr></thead><tbody>")
    for row in stats:
        cells = [
            f'<td><i style="display:inline-block;width:10px;height:10px;background:{colours[row["step"]]};'
            f'margin-right:6px"></i>{_e(row["step"])}</td>'
        ]
        cells.extend(_num_cell(row[key], fmt) for key, _, fmt in STAT_COLUMNS[1:])
        out.append(f'<tr class="step-row">{"".join(cells)}</tr>')
    out.append("</tbody></table></section>")
    # failures
    failed_jobs = failures(doc)
    out.append(f'<section id="failures"><h2>Failures ({len(failed_jobs)})</h2>')
    if not failed_jobs:
        out.append('<p class="muted">None.</p>')
    for job in failed_jobs[:MAX_FAILURES]:
        out.append('<div class="failure">')
        out.append(
            f"<b>{_e(_job_label(job))}</b> job {_e(job.get('id', '-'))}: {_e(job.get('status'))}"
            + (f", exit code {_e(job.get('exit_code'))}" if job.get("exit_code") is not None else "")
            + (" (time limit exceeded)" if job.get("timed_out") else "")
            + (f", {_e(job['failure'])} failure" if job.get("failure") else "")
            + (f", after {_e(job['tries'])} tries" if (job.get("tries") or 1) > 1 else "")
        )
        if job.get("error"):
            out.append(f"<div>error: {_e(job['error'])}</div>")
        if job.get("command"):
            out.append(f"<div>command:</div><pre>{_e(job['command'])}</pre>")
        log = job.get("stderr") or job.get("log")
        if log:
            out.append(f"<div>log: <code>{_e(log)}</code></div>")
            tail = _tail(log)
            if tail:
                out.append(f"<pre>{_e(tail)}</pre>")
        out.append("</div>")
    if len(failed_jobs) > MAX_FAILURES:
        out.append(f'<p class="muted">(and {len(failed_jobs) - MAX_FAILURES} more)</p>')
    out.append("</section>")
    # every job
    out.append(
        f'<section id="jobs"><details><summary><b>All jobs ({len(jobs)})</b></summary>'
        '<table class="sortable"><thead><tr><th>job</th><th>step</th><th>status</th><th>exit</th>'
        "<th>queued</th><th>wall</th><th>CPU</th><th>peak memory</th><th>log</th></tr></thead><tbody>"
    )
    for job in jobs[:MAX_JOB_ROWS]:
        waited: float | None = None
        if job.get("started") and job.get("submitted"):
            waited = max(0.0, float(job["started"]) - float(job["submitted"]))
        out.append(
            f"<tr><td>{_e(job.get('id'))}</td><td>{_e(_job_label(job))}</td><td>{_e(job.get('status'))}</td>"
            f"<td>{_e(job.get('exit_code') if job.get('exit_code') is not None else '-')}</td>"
            + _num_cell(waited, duration)
            + _num_cell(_wall(job), duration)
            + _num_cell(job.get("cpu"), duration)
            + _num_cell(job.get("peak_rss"), size)
            + f'<td class="l">{_e(job.get("log") or "-")}</td></tr>'
        )
    out.append("</tbody></table>")
    if len(jobs) > MAX_JOB_ROWS:
        out.append(f'<p class="muted">(and {len(jobs) - MAX_JOB_ROWS} more in report/jobs.json)</p>')
    out.append("</details></section>")
    out.append(
        '<p class="muted">CPU time and peak memory are measured per job on the host (os.wait4 and '
        "a sampled sum over the process tree); a container's own processes are not counted.</p>"
    )
    out.append(f'</main><div id="tip"></div><script>{_JS}</script>')
    out.append(f'<script type="application/json" id="run-data">{_json_for_script(doc)}</script>')
    out.append("</body></html>")
    return "\n".join(out)


def _json_for_script(doc: dict[str, Any]) -> str:
    data = {k: v for k, v in doc.items() if k != "jobs"}
    return json.dumps(data).replace("<", "\\u003c")


def write_html(doc: dict[str, Any], path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(render_html(doc))
    os.replace(tmp, path)


def after_run(doc: dict[str, Any], report_path: str | None, stats: bool, logger: logging.Logger) -> None:
    """What the end of a run writes: the --report page and the --stats table."""
    if report_path:
        write_html(doc, report_path)
        logger.info("Run report: %s", os.path.abspath(report_path))
    if stats:
        print_stats(doc)

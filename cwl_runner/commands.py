"""``runner-cwl status|clean|kill|report JOBSTORE``: look after a run from outside it."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time

from .errors import RunnerError
from .jobstore import open_jobstore
from .runstate import leader_alive, read_run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="runner-cwl", description="Look after a run through its job store.")
    sub = parser.add_subparsers(dest="command", required=True)
    status = sub.add_parser("status", help="what a run is doing, or how it ended")
    status.add_argument("jobstore")
    clean = sub.add_parser("clean", help="delete a job store (refused while its leader runs)")
    clean.add_argument("jobstore")
    kill = sub.add_parser("kill", help="stop a run's leader and its jobs")
    kill.add_argument("jobstore")
    kill.add_argument("--timeout", type=float, default=120, help="seconds to wait for the leader to stop")
    report = sub.add_parser("report", help="render the run report of a kept job store (also while it runs)")
    report.add_argument("jobstore")
    report.add_argument(
        "-o", "--output", metavar="FILE", default="report.html", help="the HTML file to write (default report.html)"
    )
    report.add_argument("--stats", action="store_true", help="also print the per-step table")
    return parser


def run_command(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"status": status, "clean": clean, "kill": kill, "report": report}[args.command](args)
    except RunnerError as err:
        print(f"runner-cwl {args.command}: {err}", file=sys.stderr)
        return err.exit_code


def status(args: argparse.Namespace) -> int:
    store = open_jobstore(args.jobstore, create=False)
    record = read_run(store)
    if record is None:
        print(f"{store.locator}: no run recorded here")
        return 1
    leader = leader_alive(store)
    state = record.status if leader or record.status != "running" else "stopped (its leader died)"
    print(f"job store: {store.locator}")
    print(f"workflow:  {record.workflow}")
    print(f"status:    {state}" + (f" — {leader}" if leader else ""))
    print(f"started:   {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(record.started))}")
    counts = record.counts
    if counts:
        print("jobs:      " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for failure in record.failures[:5]:
        print(
            f"failed:    {failure.get('step')} ({failure.get('status')}, exit {failure.get('exit_code')}) "
            f"{failure.get('error') or ''} log: {failure.get('log') or '-'}"
        )
    if len(record.failures) > 5:
        print(f"           (and {len(record.failures) - 5} more)")
    return 0 if record.status in ("success", "running") else 1


def clean(args: argparse.Namespace) -> int:
    store = open_jobstore(args.jobstore, create=False)
    leader = leader_alive(store)
    if leader:
        print(
            f"runner-cwl clean: {store.locator} is in use by {leader}; stop it first (runner-cwl kill)", file=sys.stderr
        )
        return 1
    store.destroy()
    print(f"removed {store.locator}")
    return 0


def kill(args: argparse.Namespace) -> int:
    store = open_jobstore(args.jobstore, create=False)
    leader = leader_alive(store)
    if not leader:
        print(f"{store.locator}: no leader is running")
        return 0
    record = read_run(store)
    if record is None or not record.pid:
        print(f"runner-cwl kill: cannot tell which process leads {store.locator} ({leader})", file=sys.stderr)
        return 1
    if record.host != socket.gethostname():
        print(f"runner-cwl kill: the leader runs on {record.host}; run this there", file=sys.stderr)
        return 1
    os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if not leader_alive(store):
            print(f"stopped the leader of {store.locator} (pid {record.pid}) and its jobs")
            return 0
        time.sleep(0.2)
    print(f"runner-cwl kill: pid {record.pid} is still running after {args.timeout:g} s", file=sys.stderr)
    return 1


def report(args: argparse.Namespace) -> int:
    from . import events
    from .report import print_stats, write_html

    store = open_jobstore(args.jobstore, create=False)
    doc = events.load(store)
    if doc is None:
        print(
            f"runner-cwl report: {store.locator} holds no event log ({events.EVENTS_KEY}); "
            "was the run made by an older runner-cwl?",
            file=sys.stderr,
        )
        return 1
    if doc.get("status") == "running" and not leader_alive(store):
        doc["status"] = "stopped (its leader died)"
    try:
        write_html(doc, args.output)
    except OSError as err:
        print(f"runner-cwl report: cannot write {args.output}: {err.strerror or err}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({len(doc.get('jobs', []))} jobs, {doc.get('status')})")
    if args.stats:
        print_stats(doc)
    return 0

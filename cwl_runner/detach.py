"""``--detach``: the leader runs in the background; the command returns at once.

The same command line runs again in a new session (so it outlives the terminal and
ignores its signals), with its output JSON and its log in the job store. We return
once the background leader has taken the store (its ``run.json`` names its pid),
or, if it ended before that (a bad input, a job store in use, a very short run),
with its exit code and the last lines of its log. Detached runs keep their job
store (``--clean never``) unless ``--clean`` says otherwise: it holds the output
and the log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

#: set in the background leader so that it runs instead of detaching again
DETACHED_ENV = "RUNNER_CWL_DETACHED"
OUTPUT = "output.json"
LOG = "leader.log"


def is_detached_leader() -> bool:
    return os.environ.get(DETACHED_ENV) == "1"


def detach(argv: list[str], jobstore: str | None, wait: float = 300.0) -> int:
    """Start ``runner-cwl argv`` in the background; print where to follow it."""
    store = os.path.abspath((jobstore or tempfile.mkdtemp(prefix="runner-cwl-jobstore-")).removeprefix("file://"))
    os.makedirs(store, exist_ok=True)
    if not jobstore:
        argv = ["--jobstore", store, *argv]  # before the workflow: after it are its inputs
    output, log = os.path.join(store, OUTPUT), os.path.join(store, LOG)
    with open(output, "wb") as out, open(log, "ab") as err:
        leader = subprocess.Popen(
            [sys.executable, "-m", "cwl_runner.cli", *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, DETACHED_ENV: "1"},
        )
    deadline = time.monotonic() + wait
    started = False
    while time.monotonic() < deadline and leader.poll() is None:
        try:
            with open(os.path.join(store, "run.json")) as handle:
                started = json.load(handle).get("pid") == leader.pid
        except (OSError, ValueError):
            started = False
        if started:
            break
        time.sleep(0.1)
    code = leader.poll()
    if code not in (None, 0):
        with open(log, encoding="utf-8", errors="replace") as handle:
            tail = handle.read().splitlines()[-10:]
        print(f"runner-cwl: the background run ended at once (exit {code}); its log {log}:", file=sys.stderr)
        for line in tail:
            print("  " + line, file=sys.stderr)
        return code
    state = "finished already" if code == 0 else f"running in the background (pid {leader.pid})"
    print(f"runner-cwl: {state}")
    print(f"  job store: {store}")
    print(f"  status:    runner-cwl status {store}")
    print(f"  stop:      runner-cwl kill {store}")
    print(f"  output:    {output} (when it ends); log: {log}")
    return 0

"""The S3 job store and remote inputs, against a real S3 server process (moto_server,
started by the fixture) and a real http server (the stdlib's)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from conftest import DATA, ROOT, run_s3, runner_cwl

S3DATA = DATA / "s3"


def keys(s3, bucket: str, prefix: str = "") -> dict[str, bytes]:
    client = s3.client()
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            out[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return out


@pytest.fixture
def folder(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("hello s3\n")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a\n")
    (folder / "sub" / "b.txt").write_text("b\n")
    return tmp_path


def no_traceback(run) -> None:
    assert "Traceback" not in run.stderr, run.stderr


def test_workflow_with_s3_jobstore_and_local_outdir(s3, folder, tmp_path):
    store = f"s3://runs/{uuid.uuid4().hex}"
    out = tmp_path / "out"
    run = run_s3(
        s3,
        "--keep-jobstore",
        "--jobstore",
        store,
        "--outdir",
        str(out),
        str(S3DATA / "pipeline.cwl"),
        "--text",
        str(folder / "text.txt"),
        "--folder",
        str(folder / "folder"),
    )
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert (out / "upper.txt").read_text() == "HELLO S3\n"
    assert result["chars"] == 9
    assert (out / "listing.txt").read_text().split() == ["a.txt", "sub"]
    assert (out / "copy" / "sub" / "b.txt").read_text() == "b\n"
    assert result["upper"]["location"] == (out / "upper.txt").as_uri()
    # every job's outputs went through the bucket, under files/JOB_ID/
    stored = keys(s3, "runs", store.split("/", 3)[3] + "/files/")
    names = {key.rsplit("/", 1)[-1]: data for key, data in stored.items()}
    assert names["upper.txt"] == b"HELLO S3\n"
    assert names["n.txt"].strip() == b"9"
    assert names["b.txt"] == b"b\n"
    assert any(key.endswith("/run.json") for key in keys(s3, "runs", store.split("/", 3)[3]))


def test_s3_inputs_and_s3_outdir(s3, folder):
    client = s3.client()
    client.put_object(Bucket="data", Key="in/text.txt", Body=b"from s3\n")
    client.put_object(Bucket="data", Key="in/dir/a.txt", Body=b"a\n")
    client.put_object(Bucket="data", Key="in/dir/sub/b.txt", Body=b"b\n")
    dest = f"out-{uuid.uuid4().hex[:8]}"
    run = run_s3(
        s3,
        "--jobstore",
        f"s3://runs/{uuid.uuid4().hex}",
        "--outdir",
        f"s3://data/{dest}",
        str(S3DATA / "pipeline.cwl"),
        "--text",
        "s3://data/in/text.txt",
        "--folder",
        "s3://data/in/dir",
    )
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert result["upper"]["location"] == f"s3://data/{dest}/upper.txt"
    assert result["upper"]["checksum"] == "sha1$" + hashlib.sha1(b"FROM S3\n").hexdigest()
    assert result["chars"] == 8
    exported = keys(s3, "data", dest + "/")
    assert exported[f"{dest}/upper.txt"] == b"FROM S3\n"
    assert exported[f"{dest}/listing.txt"].split() == [b"a.txt", b"sub"]
    assert exported[f"{dest}/copy/sub/b.txt"] == b"b\n"
    assert result["copied"]["location"] == f"s3://data/{dest}/copy"
    # the job store was removed after the successful run
    assert not [k for k in keys(s3, "runs") if "files/" in k and dest in k]


@pytest.fixture(scope="module")
def http_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    (root / "hello.txt").write_text("hello http\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_input(http_root, tmp_path):
    run = runner_cwl("--outdir", str(tmp_path / "out"), str(DATA / "cat.cwl"), "--file", f"{http_root}/hello.txt")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "copy.txt").read_text() == "hello http\n"


def test_http_404_is_one_clear_line(http_root, tmp_path):
    run = runner_cwl("--outdir", str(tmp_path), str(DATA / "cat.cwl"), "--file", f"{http_root}/missing.txt")
    assert run.returncode == 1
    no_traceback(run)
    assert f"{http_root}/missing.txt" in run.stderr and "404" in run.stderr, run.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--jobstore", "s3://no-such-bucket/x"], "s3://no-such-bucket/x: no such bucket"),
        (["--file", "s3://data/no/such/key.txt"], "s3://data/no/such/key.txt"),
    ],
)
def test_s3_problems_are_one_clear_line(s3, tmp_path, args, expected):
    argv = [a for a in args if a != "--file" and not a.startswith("s3://data")]
    inputs = ["--file", args[1]] if args[0] == "--file" else ["--file", str(DATA / "hello.txt")]
    run = run_s3(s3, "--outdir", str(tmp_path), *argv, str(DATA / "cat.cwl"), *inputs)
    assert run.returncode == 1, run.stderr
    no_traceback(run)
    assert expected in run.stderr, run.stderr


def test_endpoint_that_does_not_answer(s3, tmp_path):
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "RUNNER_CWL_S3_RETRIES": "2"}
    run = run_s3(s3, "--jobstore", "s3://runs/x", str(DATA / "cat.cwl"), "--file", str(DATA / "hello.txt"), env=env)
    assert run.returncode == 1
    no_traceback(run)
    assert "does not answer" in run.stderr, run.stderr


def test_local_staging_is_zero_copy(tmp_path):
    """A job sees its input under the same inode, and the job store does not grow."""
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        for _ in range(64):
            handle.write(os.urandom(2**20))
    store = tmp_path / "store"
    run = runner_cwl(
        "--keep-jobstore",
        "--jobstore",
        str(store),
        "--outdir",
        str(tmp_path / "out"),
        str(S3DATA / "inode.cwl"),
        "--file",
        str(big),
    )
    assert run.returncode == 0, run.stderr
    inode, size = (tmp_path / "out" / "inode.txt").read_text().split()
    assert int(inode) == big.stat().st_ino
    assert int(size) == 64 * 2**20
    used = int(subprocess.run(["du", "-sk", str(store)], capture_output=True, text=True).stdout.split()[0])
    assert used < 4096, f"the job store grew by {used} KiB"


def test_big_file_streams_through_s3(s3, tmp_path):
    """256 MiB made by one job, checksummed by the next through the S3 job store:
    the leader's memory stays far below the file's size."""
    mib = 256
    timed = subprocess.run(
        ["/usr/bin/time", "-f", "maxrss_kib=%M"]
        + [str(Path(sys.executable).with_name("runner-cwl"))]
        + ["--jobstore", f"s3://runs/{uuid.uuid4().hex}", "--outdir", str(tmp_path / "out")]
        + [str(S3DATA / "bigfile.cwl"), "--mib", str(mib)],
        capture_output=True,
        text=True,
        env={**os.environ, **s3.env},
        timeout=600,
    )
    assert timed.returncode == 0, timed.stderr
    digest = hashlib.md5(b"\0" * (mib * 2**20)).hexdigest()
    assert (tmp_path / "out" / "sum.txt").read_text().split()[0] == digest
    maxrss = int(timed.stderr.rsplit("maxrss_kib=", 1)[1].split()[0])
    assert maxrss < mib * 1024 / 2, f"leader peak RSS {maxrss} KiB for a {mib} MiB file"


def test_event_log_and_report_with_an_s3_jobstore(s3, folder, tmp_path):
    """The event log is one object put into the bucket; the report renders from it."""
    store = f"s3://runs/{uuid.uuid4().hex}"
    run = run_s3(
        s3, "--keep-jobstore", "--jobstore", store, "--report", str(tmp_path / "run.html"),
        "--outdir", str(tmp_path / "out"), str(S3DATA / "pipeline.cwl"),
        "--text", str(folder / "text.txt"), "--folder", str(folder / "folder"),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    stored = keys(s3, "runs", store.split("/", 3)[3] + "/report/")
    assert list(stored) == [store.split("/", 3)[3] + "/report/jobs.json"]
    doc = json.loads(next(iter(stored.values())))
    assert doc["status"] == "success" and doc["jobs"]
    assert all(job["status"] == "success" and job["cpu"] is not None for job in doc["jobs"])
    again = run_s3(s3, "report", store, "-o", str(tmp_path / "again.html"))
    assert again.returncode == 0, again.stderr
    page = (tmp_path / "again.html").read_text()
    assert page.count('class="job-bar"') == len(doc["jobs"]) == (tmp_path / "run.html").read_text().count('job-bar"')


def test_restart_after_an_edit_reuses_from_the_bucket(s3, tmp_path):
    """The edit test of tests/test_restart.py on an S3 job store, with the first run's
    local scratch space removed before the restart: what is reused comes from the bucket."""
    import shutil

    log = tmp_path / "log"
    workflow = tmp_path / "chain3.cwl"
    workflow.write_text((DATA / "chain3.cwl").read_text())
    (tmp_path / "counted.cwl").write_text((DATA / "counted.cwl").read_text())
    store = f"s3://runs/{uuid.uuid4().hex}"
    env = {"RUNNER_CWL_SCRATCH": str(tmp_path / "scratch1")}
    first = run_s3(
        s3,
        "--clean",
        "never",
        "--jobstore",
        store,
        "--outdir",
        str(tmp_path / "o1"),
        str(workflow),
        "--log",
        str(log),
        env=env,
    )
    assert first.returncode == 0, first.stderr
    assert first.json()["text"] == "cba0"
    shutil.rmtree(tmp_path / "scratch1")
    before = len(log.read_text().splitlines())
    workflow.write_text(workflow.read_text().replace("prefix: {default: b}", "prefix: {default: B}"))
    second = run_s3(
        s3,
        "--restart",
        "--clean",
        "never",
        "--jobstore",
        store,
        "--outdir",
        str(tmp_path / "o2"),
        str(workflow),
        "--log",
        str(log),
        env={"RUNNER_CWL_SCRATCH": str(tmp_path / "scratch2")},
    )
    assert second.returncode == 0, second.stderr
    assert second.json()["text"] == "cBa0"
    started = [line.split()[1] for line in log.read_text().splitlines()[before:] if line.startswith("start")]
    assert started == ["Ba0", "cBa0"], started
    status = run_s3(s3, "status", store)
    assert "reused 1" in status.stdout, status.stdout + status.stderr


class FaultProxy:
    """An HTTP proxy in front of the S3 server that answers a seeded fraction of the
    requests with 503 SlowDown instead of forwarding them (a flaky object store)."""

    def __init__(self, target: str, rate: float, seed: int = 7) -> None:
        import http.client
        import random

        host, port = target.removeprefix("http://").split(":")
        rng = random.Random(seed)
        proxy = self
        self.forwarded = 0
        self.failed = 0
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", ""):
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        chunk = self.rfile.read(size + 2)[:size]
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b""):
                                pass
                            return data
                        data += chunk
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def _forward(self) -> None:
                body = self._body()
                with lock:
                    fail = rng.random() < rate
                    if fail:
                        proxy.failed += 1
                    else:
                        proxy.forwarded += 1
                if fail:
                    error = b"<Error><Code>SlowDown</Code><Message>injected</Message></Error>"
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(error)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(error)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "transfer-encoding"}
                headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "content-length", "connection", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def test_transient_s3_errors_are_retried(s3, folder, tmp_path):
    """A third of all S3 requests fail with 503: the run still succeeds, with the right outputs."""
    proxy = FaultProxy(s3.endpoint, rate=0.3)
    try:
        run = run_s3(
            s3,
            "--jobstore",
            f"s3://runs/{uuid.uuid4().hex}",
            "--outdir",
            str(tmp_path / "out"),
            str(S3DATA / "pipeline.cwl"),
            "--text",
            str(folder / "text.txt"),
            "--folder",
            str(folder / "folder"),
            env={"AWS_ENDPOINT_URL": proxy.endpoint},
        )
    finally:
        proxy.stop()
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "upper.txt").read_text() == "HELLO S3\n"
    assert run.json()["chars"] == 9
    assert proxy.failed > 10 and proxy.forwarded > 10, (proxy.failed, proxy.forwarded)


def test_an_object_store_that_keeps_failing_is_one_clear_line(s3, tmp_path):
    proxy = FaultProxy(s3.endpoint, rate=1.0)
    try:
        run = run_s3(
            s3,
            "--jobstore",
            f"s3://runs/{uuid.uuid4().hex}",
            str(DATA / "cat.cwl"),
            "--file",
            str(DATA / "hello.txt"),
            env={"AWS_ENDPOINT_URL": proxy.endpoint, "RUNNER_CWL_S3_RETRIES": "2"},
        )
    finally:
        proxy.stop()
    assert run.returncode == 1
    no_traceback(run)
    assert "SlowDown" in run.stderr or "503" in run.stderr, run.stderr


def test_final_outputs_are_linked_not_copied(tmp_path):
    """On a local job store, --outdir shares the output's bytes with the store (one inode)."""
    store = tmp_path / "store"
    run = runner_cwl(
        "--keep-jobstore",
        "--jobstore",
        str(store),
        "--outdir",
        str(tmp_path / "out"),
        str(S3DATA / "make-wf.cwl"),
        "--mib",
        "32",
    )
    assert run.returncode == 0, run.stderr
    exported = tmp_path / "out" / "big.bin"
    assert exported.stat().st_size == 32 * 2**20
    in_store = [p for p in store.rglob("big.bin") if p.stat().st_ino == exported.stat().st_ino]
    assert in_store, "the exported file is a copy, not the store's file"
    assert exported.stat().st_nlink == 2


def test_jobs_taking_files_are_reused_after_an_edit_on_s3(s3, tmp_path):
    from test_restart import file_chain_edit

    file_chain_edit(tmp_path, f"s3://runs/{uuid.uuid4().hex}", lambda *a, env=None: run_s3(s3, *a, env=env or {}))


def test_one_leader_per_s3_jobstore(s3, tmp_path):
    """The lease in the bucket refuses a second leader while the first runs (whatever its
    host), and is gone when the first ends."""
    import json
    import time

    store = f"s3://runs/{uuid.uuid4().hex}"
    env = {**os.environ, **s3.env}
    exe = str(Path(sys.executable).with_name("runner-cwl"))
    first = subprocess.Popen(
        [exe, "--jobstore", store, "--outdir", str(tmp_path / "o1"), str(DATA / "sleep.cwl"), "--seconds", "6"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        prefix = store.split("/", 3)[3]
        while time.monotonic() < deadline and f"{prefix}/leader.lease" not in keys(s3, "runs", prefix):
            time.sleep(0.2)
        second = run_s3(s3, "--jobstore", store, str(DATA / "sleep.cwl"), "--seconds", "1")
        assert second.returncode == 2, second.stderr
        assert "in use by" in second.stderr, second.stderr
        no_traceback(second)
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert json.loads(out)


S3RVER = ROOT / ".s3rver" / "node_modules" / ".bin" / "s3rver"


@pytest.fixture(scope="module")
def s3rver(tmp_path_factory):
    """s3rver (npm): an S3 server that checks credentials (key and secret "S3RVER")."""
    import socket
    import time

    if not S3RVER.exists():
        pytest.skip("s3rver is not installed (bash scripts/test.sh installs it with npm into .s3rver/)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = tmp_path_factory.mktemp("s3rver")
    proc = subprocess.Popen(
        [str(S3RVER), "-d", str(data), "-a", "127.0.0.1", "-p", str(port), "--configure-bucket", "runs"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("s3rver did not start")
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def _as(endpoint: str, key: str | None) -> dict[str, str]:
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1", "RUNNER_CWL_S3_RETRIES": "2"}
    env.update({"AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_CONFIG_FILE": "/dev/null"})
    env.update({"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": key} if key else {})
    return env


def test_credentials_checked_by_the_server(s3rver, tmp_path):
    """With the right keys the run works; wrong keys are 'access denied', none are 'no S3
    credentials': one line each, exit 1."""
    args = [str(DATA / "cat.cwl"), "--file", str(DATA / "hello.txt")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    good = runner_cwl(
        "--jobstore", f"s3://runs/{uuid.uuid4().hex}", "--outdir", str(tmp_path / "out"), *args,
        env={**env, **_as(s3rver, "S3RVER")},
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "out" / "copy.txt").read_text() == (DATA / "hello.txt").read_text()
    exe = str(Path(sys.executable).with_name("runner-cwl"))
    for key, expected in (("wrong", "access denied"), (None, "no S3 credentials")):
        # the child sees only these credentials
        proc = subprocess.run(
            [exe, "--jobstore", f"s3://runs/{uuid.uuid4().hex}", *args],
            env={**env, **_as(s3rver, key)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        run = type("Run", (), {"returncode": proc.returncode, "stderr": proc.stderr})()
        assert run.returncode == 1, run.stderr
        no_traceback(run)
        assert expected in run.stderr, run.stderr
        assert "wrong" not in run.stderr.replace("s3://", "")  # credentials are never printed

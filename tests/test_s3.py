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
from conftest import DATA, ROOT, runner_cwl

sys.path.insert(0, str(ROOT / "scripts"))
from s3server import S3Server  # noqa: E402

S3DATA = DATA / "s3"


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    server = S3Server(log=str(tmp_path_factory.mktemp("s3") / "server.log"))
    server.make_bucket("runs")
    server.make_bucket("data")
    yield server
    server.stop()


def run_s3(s3, *args, **kwargs):
    return runner_cwl(*args, env={**s3.env, **kwargs.pop("env", {})}, **kwargs)


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
    run = runner_cwl(
        "--outdir", str(tmp_path / "out"), str(DATA / "cat.cwl"), "--file", f"{http_root}/hello.txt"
    )
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
    assert page.count('class="job-bar"') == len(doc["jobs"]) == (tmp_path / "run.html").read_text().count("job-bar\"")

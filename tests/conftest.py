"""Shared fixtures: run runner-cwl as a user would, through its console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def runner_cwl(
    *args: str, cwd: str | os.PathLike[str] | None = None, timeout: float = 300, env: dict[str, str] | None = None
) -> Run:
    exe = shutil.which("runner-cwl", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    cmd = [exe] if exe else [sys.executable, "-m", "cwl_runner.cli"]
    proc = subprocess.run(
        [*cmd, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def run_cwl():
    return runner_cwl


@pytest.fixture(scope="session", autouse=True)
def _tmpdir_in_basetemp(tmp_path_factory: pytest.TempPathFactory):
    """Point TMPDIR into pytest's base temporary directory for the whole session.

    A run that fails keeps its job store on purpose (to be inspected or resumed), and
    dozens of tests run failing workflows without ``--jobstore``: with the system's
    TMPDIR every test session left ~70 stores in /tmp. pytest keeps its last three
    base directories and removes older ones, so these go with them."""
    path = tmp_path_factory.mktemp("TMPDIR", numbered=False)
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(path)
    tempfile.tempdir = None  # tempfile reads TMPDIR again
    try:
        yield path
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved
        tempfile.tempdir = None


def docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "version"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_docker = pytest.mark.skipif(not docker_available(), reason="no container engine answers (set DOCKER_HOST)")


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """A real S3-compatible server process (moto_server) with buckets "runs" and "data"."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from s3server import S3Server

    server = S3Server(log=str(tmp_path_factory.mktemp("s3") / "server.log"))
    server.make_bucket("runs")
    server.make_bucket("data")
    yield server
    server.stop()


def run_s3(s3, *args: str, **kwargs) -> Run:
    """runner_cwl with the S3 server's endpoint and credentials in the environment."""
    return runner_cwl(*args, env={**s3.env, **kwargs.pop("env", {})}, **kwargs)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A one-node Slurm cluster (scripts/slurm-cluster.sh); SLURM_CONF is exported while it runs."""
    state = tmp_path_factory.mktemp("slurm")
    env = {
        **os.environ,
        "RUNNER_SLURM_DIR": str(state),
        "RUNNER_SLURM_PORT": os.environ.get("RUNNER_SLURM_PORT", "6837"),
    }
    if shutil.which("slurmctld") is None and os.geteuid() != 0:
        pytest.skip("Slurm is not installed and we are not root to install it (apt-get install slurm-wlm munge)")
    started = subprocess.run(
        ["bash", str(ROOT / "scripts/slurm-cluster.sh"), "start"], env=env, capture_output=True, text=True, timeout=600
    )
    if started.returncode != 0:
        pytest.fail(f"the Slurm cluster did not start:\n{started.stderr[-2000:]}")
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(state / "slurm.conf")
    try:
        yield state
    finally:
        subprocess.run(
            ["bash", str(ROOT / "scripts/slurm-cluster.sh"), "stop"], env=env, capture_output=True, timeout=120
        )
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous


def same_yaml_tree(ours, theirs, comments: bool = False, path: str = "$") -> None:
    """Assert two ruamel trees are alike: the same types (keys' too), values, lines and
    columns, flow style, and with ``comments`` the same comments."""
    assert type(ours) is type(theirs), path
    if hasattr(theirs, "lc"):
        assert (ours.lc.line, ours.lc.col, ours.lc.data) == (theirs.lc.line, theirs.lc.col, theirs.lc.data), path
        assert ours.fa.flow_style() == theirs.fa.flow_style(), path
        if comments:
            assert repr(ours.ca.items) == repr(theirs.ca.items), path
    if isinstance(theirs, dict):
        assert [(type(k), k) for k in ours] == [(type(k), k) for k in theirs], path
        for key in theirs:
            same_yaml_tree(ours[key], theirs[key], comments, f"{path}.{key}")
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), path
        for i, (mine, its) in enumerate(zip(ours, theirs, strict=True)):
            same_yaml_tree(mine, its, comments, f"{path}[{i}]")
    else:
        assert ours == theirs, path

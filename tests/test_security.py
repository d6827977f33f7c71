"""Outputs stay confined; secrets stay out of the job store, the logs and the reports."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import DATA, runner_cwl

SECRET_TEXT = "OUTSIDE-SECRET-CONTENT"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    place = tmp_path / "outside"
    place.mkdir()
    (place / "secret.txt").write_text(SECRET_TEXT)
    return place


def _nothing_leaked(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert SECRET_TEXT not in path.read_text(errors="replace"), f"{path} holds the outside file"


ESCAPES = {
    "glob ../..": (["--glob", "../../*"], "outside the job's output directory"),
    "absolute glob": (["--glob", "/etc/host*"], "glob patterns must not start with '/'"),
    "symlink to a file": (["--glob", "link", "--link_to", "{outside}/secret.txt"], "outside the job's output"),
    "symlink to a directory": (["--glob", "link", "--link_to", "{outside}"], "outside the job's output"),
    "symlink inside a directory": (["--glob", "d", "--link_to", "{outside}/secret.txt"], "a symbolic link to"),
    "cwl.output.json path ..": (
        [
            "--glob",
            "x",
            "--json",
            '{{"out": {{"class": "File", "path": "../../../../../../../..{outside}/secret.txt"}}}}',
        ],
        "outside the job's output directory",
    ),
    "cwl.output.json location ..": (
        [
            "--glob",
            "x",
            "--json",
            '{{"out": {{"class": "File", "location": "../../../../../../../..{outside}/secret.txt"}}}}',
        ],
        "outside the job's output directory",
    ),
    "cwl.output.json basename ..": (
        ["--glob", "x", "--json", '{{"out": {{"class": "File", "location": "in.txt", "basename": "../escaped.txt"}}}}'],
        "is not a plain file name",
    ),
}


@pytest.mark.parametrize("case", list(ESCAPES))
def test_no_output_escapes(tmp_path, outside, case):
    args, message = ESCAPES[case]
    outdir = tmp_path / "out" / "deeper"
    run = runner_cwl(
        "--outdir", str(outdir), str(DATA / "escape.cwl"), *[a.format(outside=outside) for a in args]
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out" / "escaped.txt").exists()
    _nothing_leaked(tmp_path / "out")
    assert SECRET_TEXT not in run.stdout


def test_links_to_inputs_and_inside_are_fine(tmp_path):
    given = tmp_path / "given.txt"
    given.write_text("an input\n")
    inside = runner_cwl("--outdir", str(tmp_path / "a"), str(DATA / "escape.cwl"), "--glob", "in.txt")
    assert inside.returncode == 0, inside.stderr
    passed = runner_cwl(
        "--outdir", str(tmp_path / "b"), str(DATA / "escape.cwl"), "--glob", "link", "--link_to", str(given),
        "--given", str(given),
    )  # fmt: skip
    assert passed.returncode == 0, passed.stderr
    assert Path(passed.json()["out"][0]["path"]).read_text() == "an input\n"


SECRET = "hunter2-Secret-Value-0451"


@pytest.mark.parametrize("mode", ["in-leader", "worker-process"])
@pytest.mark.parametrize("fail", [False, True])
def test_secrets_never_written(tmp_path, mode, fail):
    store, outdir = tmp_path / "store", tmp_path / "out"
    run = runner_cwl(
        "--enable-ext", "--debug", *(["--worker-process"] if mode == "worker-process" else []),
        "--jobstore", str(store), "--keep-jobstore", "--outdir", str(outdir), str(DATA / "secret.cwl"),
        "--pw", SECRET, "--fail", "yes" if fail else "no",
    )  # fmt: skip
    assert run.returncode == (1 if fail else 0), run.stderr
    # the tool got the real value, on its command line and in its environment
    digest = next(p for p in [*outdir.rglob("digest.txt"), *store.rglob("digest.txt")] if p.is_file())
    assert digest.read_text().strip() == hashlib.sha256(SECRET.encode()).hexdigest()
    assert SECRET not in run.stdout and SECRET not in run.stderr  # logs (--debug) and the report
    for path in [*store.rglob("*"), *outdir.rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"the secret is in {path}"
    state = json.loads((store / "run.json").read_text())
    if fail:
        assert state["failures"] and "(secret-" in run.stderr  # the command shows the placeholder

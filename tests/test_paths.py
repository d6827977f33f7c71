"""File names: what the spec allows works; shell metacharacters stay refused."""

from __future__ import annotations

import json

from conftest import DATA


def _run_cat(run_cwl, tmp_path, name: str, *extra: str):
    source = tmp_path / name
    source.write_text("content\n")
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"file": {"class": "File", "location": source.as_uri()}}))
    return run_cwl(*extra, "--outdir", str(tmp_path / "out"), str(DATA / "cat.cwl"), str(job))


def test_hash_mark_and_space_are_accepted(run_cwl, tmp_path):
    result = _run_cat(run_cwl, tmp_path, "item #1.txt")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out/copy.txt").read_text() == "content\n"


def test_shell_metacharacters_are_refused(run_cwl, tmp_path):
    result = _run_cat(run_cwl, tmp_path, "a;b.txt")
    assert result.returncode == 1
    assert "contains illegal characters" in result.stderr


def test_relax_path_checks_accepts_anything(run_cwl, tmp_path):
    result = _run_cat(run_cwl, tmp_path, "a;b.txt", "--relax-path-checks")
    assert result.returncode == 0, result.stderr

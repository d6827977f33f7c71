"""``--provenance DIR``: the research object is valid CWLProv, and holds what cwltool's holds.

Each workflow runs twice, through runner-cwl and through cwltool itself, each with
``--provenance``; the two research objects must have the same files and the same PROV
statements (up to UUIDs, times, the order of concurrent jobs and of attributes).
Validity is checked as cwltool's own tests check it (BagIt, the manifest), with the
``cwlprov`` validator, and by converting to a Workflow Run RO-Crate with ``runcrate``
and reading that with ``rocrate``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import DATA, ROOT, needs_docker, run_s3, runner_cwl

BIN = os.path.dirname(sys.executable)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d)?")


def tool(name: str) -> str:
    path = shutil.which(name, path=BIN + os.pathsep + os.environ.get("PATH", ""))
    if path is None:
        pytest.skip(f"{name} is not installed (bash scripts/test.sh installs it)")
    return path


def both(tmp_path: Path, *args: str) -> tuple[Path, Path]:
    """(ours, cwltool's) research objects for one run of ``args``."""
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    run = runner_cwl("--provenance", str(ours), "--outdir", str(tmp_path / "out1"), *args, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    proc = subprocess.run(
        [tool("cwltool"), "--provenance", str(theirs), "--outdir", str(tmp_path / "out2"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return ours, theirs


def files(ro: Path) -> list[str]:
    return sorted(_UUID.sub("UUID", str(p.relative_to(ro))) for p in ro.rglob("*") if p.is_file())


def statements(provn: Path) -> Counter[str]:
    """The PROV-N statements, with UUIDs and times blanked and attributes sorted."""
    out: Counter[str] = Counter()
    for line in provn.read_text().splitlines():
        line = _TIME.sub("TIME", _UUID.sub("UUID", line.strip()))
        match = re.match(r"^(.*?)\[(.*)\]\)$", line)
        if match:
            attrs = sorted(a.strip() for a in re.split(r",\s*(?=[\w:]+=)", match.group(2)))
            line = f"{match.group(1)}[{', '.join(attrs)}])"
        out[line] += 1
    return out


def check_bag(ro: Path) -> None:
    """As cwltool's tests/test_provenance.py: folders, BagIt, the RO manifest."""
    import bagit

    for folder in ("data", "snapshot", "workflow", "metadata/provenance"):
        assert (ro / folder).is_dir(), folder
    bag = bagit.Bag(str(ro))
    assert bag.has_oxum()
    only_manifest, only_fs = bag.compare_manifests_with_fs()
    assert not list(only_manifest) and not list(only_fs)
    bag.validate()
    assert str(bag.info["External-Identifier"]).startswith("arcp://uuid,")
    manifest = json.loads((ro / "metadata/manifest.json").read_text())
    aggregated = {a["uri"] for a in manifest["aggregates"]}
    for ext in ("provn", "xml", "json", "jsonld", "nt", "ttl"):
        assert f"../metadata/provenance/primary.cwlprov.{ext}" in aggregated
    for name in ("primary-job.json", "packed.cwl", "primary-output.json"):
        assert f"../workflow/{name}" in aggregated
    validate = subprocess.run([tool("cwlprov"), "-d", str(ro), "validate"], capture_output=True, text=True)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "Valid CWLProv RO" in validate.stdout


def same_research_object(ours: Path, theirs: Path) -> None:
    assert files(ours) == files(theirs)
    for mine in sorted((ours / "metadata/provenance").glob("*.provn")):
        name = _UUID.sub("UUID", mine.name)
        (other,) = [p for p in (theirs / "metadata/provenance").glob("*.provn") if _UUID.sub("UUID", p.name) == name]
        assert statements(mine) == statements(other), name
    for name in ("primary-job.json", "primary-output.json"):
        mine, other = (_UUID.sub("UUID", (ro / "workflow" / name).read_text()) for ro in (ours, theirs))
        assert json.loads(mine) == json.loads(other), name


def test_workflow_provenance_is_cwltools(tmp_path):
    """Scatter, parallel jobs, the workflow's inputs and outputs (the README's example)."""
    ours, theirs = both(tmp_path, str(ROOT / "examples/wc.cwl"), str(ROOT / "examples/wc-inputs.yml"))
    check_bag(ours)
    same_research_object(ours, theirs)
    provn = (ours / "metadata/provenance/primary.cwlprov.provn").read_text()
    # one process run per job, each with what it used and generated
    assert provn.count("prov:type='wfprov:ProcessRun'") == 4
    for step in ("count", "count_2", "count_3", "add"):
        assert f'prov:label="Run of workflow/packed.cwl#main/{step}"' in provn
    assert provn.count("used(") == 5 and provn.count("wasEndedBy(") == 5

    # a Workflow Run RO-Crate (runcrate's conversion of CWLProv), read by ro-crate-py
    tool("runcrate")
    from rocrate.rocrate import ROCrate

    crates = []
    for ro in (ours, theirs):
        convert = subprocess.run(
            [tool("runcrate"), "convert", str(ro), "-o", str(ro) + "-crate"], capture_output=True, text=True
        )
        assert convert.returncode == 0, convert.stderr
        crates.append(ROCrate(str(ro) + "-crate"))
    actions = [sorted(e.get("name") for e in c.get_entities() if e.type == "CreateAction") for c in crates]
    assert actions[0] == actions[1]
    assert len(actions[0]) == 5  # the workflow run and its 4 jobs
    kinds = [Counter(str(e.type) for e in c.get_entities()) for c in crates]
    assert kinds[0] == kinds[1]


def test_nested_workflow_provenance_is_cwltools(tmp_path):
    """A subworkflow (its own provenance document), an ExpressionTool, a step valueFrom."""
    ours, theirs = both(tmp_path, str(DATA / "prov-nested.cwl"), "--messages", "a", "--messages", "b")
    check_bag(ours)
    same_research_object(ours, theirs)
    assert len(list((ours / "metadata/provenance").glob("workflow_20inner.*.cwlprov.provn"))) == 1


def test_single_tool_provenance_is_cwltools(tmp_path):
    ours, theirs = both(tmp_path, str(DATA / "echo.cwl"), "--message", "hello")
    check_bag(ours)
    same_research_object(ours, theirs)


@needs_docker
def test_container_job_provenance_is_cwltools(tmp_path):
    """A container job names its image (a prov:SoftwareAgent associated with the run)."""
    ours, theirs = both(tmp_path, str(DATA / "docker-echo.cwl"))
    check_bag(ours)
    same_research_object(ours, theirs)
    assert (
        "Container execution of image debian:stable-slim"
        in (ours / "metadata/provenance/primary.cwlprov.provn").read_text()
    )


def test_restart_records_reused_jobs_as_cwltool_records_run_ones(tmp_path):
    """Jobs reused by --restart are in the research object as if they had run."""
    args = [str(DATA / "prov-nested.cwl"), "--messages", "a", "--messages", "b"]
    store = tmp_path / "store"
    first = runner_cwl("--keep-jobstore", "--jobstore", str(store), "--outdir", str(tmp_path / "first"), *args)
    assert first.returncode == 0, first.stderr
    restart = runner_cwl(
        "--restart", "--jobstore", str(store), "--provenance", str(tmp_path / "restarted"),
        "--outdir", str(tmp_path / "again"), *args,
    )  # fmt: skip
    assert restart.returncode == 0, restart.stderr
    # every tool job: the two echoes, and the cat of a staged file
    assert restart.stderr.count("finished in an earlier attempt") == 3
    _, theirs = both(tmp_path, *args)
    check_bag(tmp_path / "restarted")
    same_research_object(tmp_path / "restarted", theirs)


def test_s3_jobstore_and_outdir_provenance_is_cwltools(s3, tmp_path):
    """Outputs that live in S3 (job store and --outdir), jobs in worker processes: the
    research object still holds every file, by content, as cwltool's does."""
    import uuid

    args = [str(ROOT / "examples/wc.cwl"), str(ROOT / "examples/wc-inputs.yml")]
    run = run_s3(
        s3, "--worker-process", "--jobstore", f"s3://runs/{uuid.uuid4().hex}", "--provenance", str(tmp_path / "s3ro"),
        "--outdir", f"s3://runs/out-{uuid.uuid4().hex}", *args,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    _, theirs = both(tmp_path, *args)
    check_bag(tmp_path / "s3ro")
    same_research_object(tmp_path / "s3ro", theirs)

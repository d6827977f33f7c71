"""Jobs in a real container engine (../shared/containers/setup.sh starts one here)."""

from __future__ import annotations

from conftest import DATA, needs_docker


@needs_docker
def test_tool_runs_in_docker(run_cwl, tmp_path):
    result = run_cwl("--outdir", str(tmp_path), str(DATA / "docker-echo.cwl"))
    assert result.returncode == 0, result.stderr
    # the host is not necessarily Debian; the image is
    assert (tmp_path / "version.txt").read_text().strip()[0].isdigit()


@needs_docker
def test_missing_image_is_reported_before_any_job(run_cwl, tmp_path):
    result = run_cwl("--outdir", str(tmp_path), str(DATA / "docker-missing-image.cwl"))
    assert result.returncode == 33
    assert "runner-cwl-test/no-such-image:never" in result.stderr
    assert "cannot be pulled" in result.stderr
    assert "[job" not in result.stderr  # no job was started


def test_no_engine_is_reported(run_cwl, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    result = run_cwl("--outdir", str(tmp_path / "o"), str(DATA / "docker-echo.cwl"))
    assert result.returncode == 33
    assert "engine does not answer" in result.stderr

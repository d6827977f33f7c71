"""The parsed-schema cache: written once, used after, never a reason to fail."""

from __future__ import annotations

from conftest import DATA


def _run(run_cwl, tmp_path, cache, *extra):
    return run_cwl(
        *extra,
        "--outdir",
        str(tmp_path / "out"),
        str(DATA / "echo.cwl"),
        "--message",
        "x",
        env={"XDG_CACHE_HOME": str(cache)},
    )


def test_cache_is_written_then_used(run_cwl, tmp_path):
    cache = tmp_path / "cache"
    assert _run(run_cwl, tmp_path, cache).returncode == 0
    files = list((cache / "runner-cwl").glob("schemas-*.pickle"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    assert _run(run_cwl, tmp_path, cache).returncode == 0
    assert files[0].stat().st_mtime_ns == stamp, "a good cache is read, not rewritten"


def test_broken_cache_falls_back_and_is_replaced(run_cwl, tmp_path):
    cache = tmp_path / "cache"
    assert _run(run_cwl, tmp_path, cache).returncode == 0
    (path,) = (cache / "runner-cwl").glob("schemas-*.pickle")
    path.write_bytes(b"not a pickle")
    result = _run(run_cwl, tmp_path, cache)
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() != b"not a pickle"


def test_extensions_have_their_own_cache(run_cwl, tmp_path):
    cache = tmp_path / "cache"
    assert _run(run_cwl, tmp_path, cache).returncode == 0
    assert _run(run_cwl, tmp_path, cache, "--enable-ext").returncode == 0
    names = sorted(p.name for p in (cache / "runner-cwl").glob("schemas-*.pickle"))
    assert len(names) == 2 and names[0].endswith("-ext.pickle")

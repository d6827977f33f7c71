"""The final outputs' relocation into --outdir (relocate.py) against cwltool's own:
same output object, same files under the same names, on every shape it takes on,
and cwltool's function itself for every shape it leaves to it."""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path

import pytest
from cwltool.stdfsaccess import StdFsAccess
from schema_salad.ref_resolver import file_uri

from cwl_runner import patches, relocate
from cwl_runner.workdirs import add_real_root


@pytest.fixture()
def store(tmp_path, monkeypatch):
    patches.apply()
    root = tmp_path / "store" / "out"
    root.mkdir(parents=True)
    monkeypatch.setattr(patches, "LINKABLE_ROOTS", {os.path.realpath(root)})
    return root


def _file(root: Path, job: str, name: str, text: str, **extra) -> dict:
    folder = root / job
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text)
    entry = {"class": "File", "location": file_uri(str(path)), "basename": name, "size": len(text)}
    if extra.pop("checksum", True):
        entry["checksum"] = "sha1$" + hashlib.sha1(text.encode()).hexdigest()
    entry.update(extra)
    return entry


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): ("<dir>" if p.is_dir() else p.read_text()) for p in sorted(folder.rglob("*"))}


def _both(output: dict, tmp_path: Path, prepare=None) -> tuple[dict, dict, Path, Path]:
    """Relocate a copy of ``output`` each way, into outdirs of their own."""
    results = []
    for way in ("cwltool", "runner"):
        outdir = tmp_path / f"outdir-{way}"
        outdir.mkdir()
        add_real_root(str(outdir))
        if prepare is not None:
            prepare(outdir)
        obj = copy.deepcopy(output)
        if way == "cwltool":
            got = relocate._original(obj, str(outdir), set(), "copy", StdFsAccess(""), True)
        else:
            got = relocate.relocate_outputs(obj, str(outdir), set(), "copy", StdFsAccess(""), True)
        results.append((got, outdir))
    (ours_ref, ref_dir), (ours, our_dir) = results
    return ours_ref, ours, ref_dir, our_dir


def _same(reference: dict, ours: dict, ref_dir: Path, our_dir: Path) -> None:
    text = str(ours).replace(str(our_dir), "OUTDIR")
    assert text == str(reference).replace(str(ref_dir), "OUTDIR")
    assert _tree(our_dir) == _tree(ref_dir)


def test_a_scatter_of_one_name_gets_cwltools_names_and_locations(store, tmp_path):
    output = {
        "out": [_file(store, f"job{i}", "out.txt", f"{i}\n") for i in range(12)],
        "log": _file(store, "joblog", "out.txt_2", "already suffixed\n"),  # clashes with a rename
        "record": {"nested": [[_file(store, "deep", "out.txt", "deep\n", contents="deep\n", checksum=False)]]},
    }
    output["again"] = dict(output["out"][3])  # one file twice, in another object
    assert relocate._plan(output, str(tmp_path / "x"), "copy") is not None, "the direct way"
    reference, ours, ref_dir, our_dir = _both(output, tmp_path)
    _same(reference, ours, ref_dir, our_dir)
    names = sorted(os.listdir(our_dir))
    assert "out.txt" in names and "out.txt_11" in names and "out.txt_2_2" in names
    assert "contents" not in ours["record"]["nested"][0][0] and "checksum" in ours["record"]["nested"][0][0]
    # hard links: the store's file and --outdir's are one
    first = Path(ours["out"][0]["location"][len("file://") :])
    assert first.stat().st_ino == (store / "job0" / "out.txt").stat().st_ino


def test_an_existing_target_is_replaced_as_cwltool_does(store, tmp_path):
    output = {"out": _file(store, "job", "result.txt", "new\n")}

    def old_files(outdir: Path) -> None:
        (outdir / "result.txt").write_text("old\n")

    reference, ours, ref_dir, our_dir = _both(output, tmp_path, old_files)
    _same(reference, ours, ref_dir, our_dir)
    assert (our_dir / "result.txt").read_text() == "new\n"


def _directory(store: Path) -> dict:
    (store / "d").mkdir()
    (store / "d" / "f.txt").write_text("f\n")
    return {"class": "Directory", "location": file_uri(str(store / "d")), "basename": "d"}


def _linked(store: Path, tmp_path: Path) -> dict:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("elsewhere\n")
    (store / "j").mkdir()
    (store / "j" / "link.txt").symlink_to(outside)
    return {"class": "File", "location": file_uri(str(store / "j" / "link.txt")), "basename": "link.txt"}


def _outside(store: Path, tmp_path: Path) -> dict:
    (tmp_path / "input.txt").write_text("an input passed through\n")
    return {"class": "File", "location": file_uri(str(tmp_path / "input.txt")), "basename": "input.txt"}


@pytest.mark.parametrize(
    "shape",
    ["directory", "secondary files", "link", "outside the store", "same object twice", "dirname"],
)
def test_other_shapes_are_left_to_cwltool(store, tmp_path, shape):
    plain = _file(store, "job", "a.txt", "a\n")
    if shape == "directory":
        output = {"a": plain, "d": _directory(store)}
    elif shape == "secondary files":
        plain["secondaryFiles"] = [_file(store, "job", "a.txt.idx", "idx\n")]
        output = {"a": plain}
    elif shape == "link":
        output = {"a": plain, "l": _linked(store, tmp_path)}
    elif shape == "outside the store":
        output = {"a": plain, "i": _outside(store, tmp_path)}
    elif shape == "same object twice":
        output = {"a": plain, "b": [plain]}
    else:
        plain["dirname"] = str(tmp_path)
        output = {"a": plain}
    assert relocate._plan(output, str(tmp_path / "x"), "copy") is None
    if shape in ("same object twice", "dirname"):
        return  # cwltool's own function fails on the one (a KeyError), and puts the other in dirname

    reference, ours, ref_dir, our_dir = _both(output, tmp_path)
    _same(reference, ours, ref_dir, our_dir)


def test_leaving_outputs_in_place_is_cwltools(store, tmp_path):
    output = {"a": _file(store, "job", "a.txt", "a\n")}
    assert relocate._plan(output, str(tmp_path), "leave") is None
    kept = copy.deepcopy(output)
    assert relocate.relocate_outputs(output, str(tmp_path / "o"), set(), "leave", StdFsAccess(""), True) == kept
    assert not (tmp_path / "o").exists()


def test_files_are_moved_when_the_run_allows_it_and_linked_again_after(store, tmp_path):
    """A run whose store is removed next lets its relocation move the files (a job
    directory left empty is one rmdir): the same object and files as cwltool's, the
    store's job directories empty, and the allowance used up by that relocation."""
    output = {
        "out": [_file(store, f"job{i}", "out.txt", f"{i}\n") for i in range(5)],
        "nested": [{"deep": _file(store, "deep", "x.txt", "deep\n", contents="deep\n", checksum=False)}],
    }
    output["again"] = dict(output["out"][1])
    relocate.allow_moves(os.path.realpath(store))
    reference, ours, ref_dir, our_dir = _both(output, tmp_path)
    _same(reference, ours, ref_dir, our_dir)
    assert all(not any(folder.iterdir()) for folder in store.iterdir()), "every file moved out of the store"
    assert relocate._movable == ()
    output = {"out": _file(store, "later", "out.txt", "later\n")}
    (tmp_path / "second").mkdir()
    _both(output, tmp_path / "second")
    assert (store / "later" / "out.txt").exists(), "no allowance: linked"


def test_nothing_is_moved_into_an_outdir_that_holds_files(store, tmp_path):
    """A rename would replace what is there without cwltool's care: into a directory
    that already holds something, the files are linked as usual."""
    output = {"out": _file(store, "job", "result.txt", "new\n"), "other": _file(store, "job2", "a.txt", "a\n")}

    def old_files(outdir: Path) -> None:
        (outdir / "result.txt").write_text("old\n")

    relocate.allow_moves(os.path.realpath(store))
    reference, ours, ref_dir, our_dir = _both(output, tmp_path, old_files)
    _same(reference, ours, ref_dir, our_dir)
    assert (store / "job2" / "a.txt").exists() and (our_dir / "result.txt").read_text() == "new\n"


def test_file_uris_are_read_and_written_as_schema_salad_does():
    import random

    from schema_salad.ref_resolver import uri_file_path

    rng = random.Random(1)
    alphabet = "ab/_.-~%#? é:Z09+="
    for _ in range(20000):
        path = "/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert relocate._uri(path) == file_uri(path), path
        location = "file://" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        try:
            expected = uri_file_path(location)
        except Exception as err:  # noqa: BLE001 - the same failure both ways
            expected = repr(err)
        try:
            got = relocate._path(location)
        except Exception as err:  # noqa: BLE001
            got = repr(err)
        assert got == expected, location

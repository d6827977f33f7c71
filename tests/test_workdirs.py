"""Job directories made and removed off the leader's thread; outputs linked out."""

from __future__ import annotations

import json
import os

from conftest import DATA, runner_cwl

from cwl_runner.workdirs import RunnerRuntimeContext, WorkDirs, use_workdirs


def test_directories_are_fresh_made_ahead_and_cleaned_up(tmp_path):
    workdirs = WorkDirs(ahead=4)
    prefix = str(tmp_path / "out") + os.sep
    os.makedirs(prefix)
    taken = [workdirs.take(prefix) for _ in range(20)]
    assert len(set(taken)) == 20
    assert all(p.startswith(prefix) and os.path.isdir(p) and not os.listdir(p) for p in taken)
    for path in taken[:10]:
        open(os.path.join(path, "x"), "w").close()  # not empty: removed all the same
        workdirs.discard(path)
    workdirs.close()
    assert sorted(os.path.join(prefix, n) for n in os.listdir(prefix)) == sorted(taken[10:])


def test_runtime_context_copies_keep_the_workdirs_and_stagedirs_are_not_made(tmp_path):
    from cwltool.context import RuntimeContext

    workdirs = WorkDirs()
    context = RuntimeContext({"tmpdir_prefix": str(tmp_path / "t"), "tmp_outdir_prefix": str(tmp_path / "o")})
    context = use_workdirs(context, workdirs).copy()
    assert isinstance(context, RunnerRuntimeContext)
    out, tmp, stage = context.get_outdir(), context.get_tmpdir(), context.get_stagedir()
    assert out.startswith(str(tmp_path / "o")) and os.path.isdir(out)
    assert tmp.startswith(str(tmp_path / "t")) and os.path.isdir(tmp)
    assert stage.startswith(str(tmp_path / "t")) and not os.path.exists(stage)
    workdirs.close()


def test_final_outputs_are_linked_from_the_store_and_survive_its_removal(tmp_path):
    store = tmp_path / "store"
    run = runner_cwl(
        "--clean",
        "never",
        "--jobstore",
        str(store),
        "--outdir",
        str(tmp_path / "out"),
        str(DATA / "echo-wf.cwl"),
        "--message",
        "hi",
    )
    assert run.returncode == 0, run.stderr
    path = run.json()["out"]["path"]
    assert os.stat(path).st_nlink == 2  # one inode: the store's and --outdir's names
    again = runner_cwl("--outdir", str(tmp_path / "out2"), str(DATA / "echo-wf.cwl"), "--message", "hi")
    assert again.returncode == 0, again.stderr
    path2 = json.loads(again.stdout)["out"]["path"]
    assert os.stat(path2).st_nlink == 1 and open(path2).read() == "hi\n"  # temporary store removed


def test_a_users_file_returned_as_an_output_is_copied_not_linked(tmp_path):
    source = tmp_path / "input.txt"
    source.write_text("mine\n")
    run = runner_cwl("--outdir", str(tmp_path / "out"), str(DATA / "passthrough.cwl"), "--source", str(source))
    assert run.returncode == 0, run.stderr
    path = run.json()["out"]["path"]
    assert open(path).read() == "mine\n"
    assert os.stat(source).st_nlink == 1 and not os.path.samefile(path, source)


def test_fast_realpath_agrees_with_os_realpath(tmp_path):
    from cwl_runner.workdirs import FastRealpath

    root = os.path.realpath(tmp_path)
    fs = type("F", (FastRealpath,), {"real_roots": (root,)})("")
    os.makedirs(f"{root}/a/b")
    open(f"{root}/a/b/f", "w").close()
    os.symlink(f"{root}/a/b", f"{root}/link")
    os.symlink("b/f", f"{root}/a/rel")
    for path in [
        f"{root}/a/b/f",
        f"{root}/a/b",
        f"{root}/link/f",
        f"{root}/a/rel",
        f"{root}/missing/x",
        f"{root}/a/../a/b",
        f"{root}//a/b",
        f"{root}/a/b/f/not-a-dir",
        root,
        "/usr/bin",
    ]:
        assert fs.realpath(path) == os.path.realpath(path), path


def test_remove_tree_removes_everything_and_follows_no_link(tmp_path):
    from cwl_runner.workdirs import remove_tree

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    root = tmp_path / "store"
    for i in range(40):
        job = root / "work" / "out" / f"d{i}"
        job.mkdir(parents=True)
        (job / "out.txt").write_text("x")
        (root / "logs").mkdir(exist_ok=True)
        (root / "logs" / f"{i}.log").write_text("")
    (root / "work" / "out" / "link").symlink_to(outside)
    (root / "run.json").write_text("{}")
    remove_tree(str(root))
    assert not root.exists()
    assert (outside / "keep").read_text() == "x"

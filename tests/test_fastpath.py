"""The fast path (fastpath.py): planned tools' jobs are the jobs cwltool would build.

``RUNNER_CWL_FASTPATH=check`` builds every planned job both ways and fails the
run on any difference (command line, environment, streams, resources, exit
codes, collected outputs); ``=0`` turns the fast path off. The runs here compare
all three, and in-process runs count the jobs that took the fast path, so a
plan that silently never applies fails too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import DATA, runner_cwl
from cwltool.context import LoadingContext
from cwltool.load_tool import load_tool

from cwl_runner import api, fastpath
from cwl_runner import plan as planning
from cwl_runner.factory import make_tool

FAST = DATA / "fastpath"


def _outputs(outdir: Path) -> list[str]:
    return [p.read_text() for p in sorted(outdir.iterdir(), key=lambda p: p.name)]


@pytest.mark.parametrize("mode", ["check", "1"])
def test_scatter_bindings_match_cwltool(tmp_path: Path, mode: str) -> None:
    ref = runner_cwl(
        "--quiet",
        "--outdir",
        str(tmp_path / "ref"),
        str(FAST / "scatter-args.cwl"),
        str(FAST / "scatter-args.yml"),
        env={fastpath.MODE_ENV: "0"},
    )
    assert ref.returncode == 0, ref.stderr
    run = runner_cwl(
        "--quiet",
        "--outdir",
        str(tmp_path / "fast"),
        str(FAST / "scatter-args.cwl"),
        str(FAST / "scatter-args.yml"),
        env={fastpath.MODE_ENV: mode},
    )
    assert run.returncode == 0, run.stderr
    assert _outputs(tmp_path / "fast") == _outputs(tmp_path / "ref")
    first = (tmp_path / "ref" / "out.txt").read_text().splitlines()
    assert first == ["4294967296", "first", "second", "-f", "--n=0", "-s", "a", "dee"]
    # the output objects too (locations differ only by the output directory)
    ours = json.dumps(run.json()).replace(str(tmp_path / "fast"), "OUT")
    theirs = json.dumps(ref.json()).replace(str(tmp_path / "ref"), "OUT")
    assert json.loads(ours) == json.loads(theirs)


def test_jobs_take_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fastpath.MODE_ENV, "check")
    before = fastpath.jobs_built
    inputs = {"s": ["a", "b"], "n": [1, 2], "flag": [True, False], "opt": [None, "x"]}
    out = api.run(str(FAST / "scatter-args.cwl"), inputs, outdir=str(tmp_path / "out"))
    assert len(out["out"]) == 2
    assert fastpath.jobs_built - before == 2


def test_off_means_cwltool_builds_every_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fastpath.MODE_ENV, "0")
    before = fastpath.jobs_built
    inputs = {"s": ["a"], "n": [1], "flag": [True], "opt": [None]}
    api.run(str(FAST / "scatter-args.cwl"), inputs, outdir=str(tmp_path / "out"))
    assert fastpath.jobs_built == before


def _tool(path: Path):  # type: ignore[no-untyped-def]
    context = LoadingContext()
    context.construct_tool_object = make_tool
    return load_tool(str(path), context)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text("cwlVersion: v1.2\nclass: CommandLineTool\n" + text)
    return path


@pytest.mark.parametrize(
    "body",
    [
        # an expression anywhere
        "baseCommand: echo\ninputs: {m: {type: string, inputBinding: {valueFrom: $(self)}}}\noutputs: {}\n",
        "baseCommand: echo\narguments: [$(runtime.cores)]\ninputs: {}\noutputs: {}\n",
        # File inputs with more than a location: cwltool's
        "baseCommand: cat\ninputs: {f: {type: File, inputBinding: {}, secondaryFiles: [.bai]}}\noutputs: {}\n",
        "baseCommand: cat\ninputs: {f: {type: File, inputBinding: {loadContents: true}}}\noutputs: {}\n",
        "baseCommand: cat\ninputs: {d: {type: Directory, inputBinding: {}}}\noutputs: {}\n",
        # arrays, floats, records
        "baseCommand: echo\ninputs: {a: {type: 'string[]', inputBinding: {}}}\noutputs: {}\n",
        "baseCommand: echo\ninputs: {x: {type: float, inputBinding: {}}}\noutputs: {}\n",
        # a glob pattern, not one file name
        "baseCommand: touch\ninputs: {}\noutputs: {o: {type: File, outputBinding: {glob: '*.txt'}}}\n",
        # outputs cwltool evaluates
        "baseCommand: echo\ninputs: {}\nstdout: o\n"
        "outputs: {o: {type: string, outputBinding: {glob: o, loadContents: true}}}\n",
        # requirements whose effect is per job
        "requirements: {InitialWorkDirRequirement: {listing: [{entryname: a, entry: b}]}}\n"
        "baseCommand: cat\ninputs: {}\noutputs: {}\n",
        "requirements: {ShellCommandRequirement: {}}\nbaseCommand: echo\ninputs: {}\noutputs: {}\n",
        # a field whose meaning is cwltool's (stdin is staged)
        "baseCommand: cat\nstdin: /etc/hostname\ninputs: {}\noutputs: {}\n",
        # separate: false needs a prefix (cwltool's error)
        "baseCommand: echo\ninputs: {m: {type: string, inputBinding: {separate: false}}}\noutputs: {}\n",
    ],
)
def test_what_is_not_planned(tmp_path: Path, body: str) -> None:
    assert planning.plan_for(_tool(_write(tmp_path, "t.cwl", body))) is None


def test_what_is_planned(tmp_path: Path) -> None:
    tool = _tool(FAST / "args.cwl")
    plan = tool.fast_plan
    assert plan is not None
    argv, values = plan.command_line({"s": "x", "n": 3, "flag": True, "big": 5, "unbound": "u"})
    assert argv == ["printf", "%s\\n", "5", "first", "second", "-f", "--n=3", "-s", "x", "dee"]
    assert values["opt"] is None and values["dflt"] == "dee"
    # values the plan does not cover go to cwltool, which judges them
    assert plan.command_line({"s": 1, "n": 3, "flag": True, "big": 5, "unbound": "u"}) is None  # wrong type
    assert plan.command_line({"n": 3, "flag": True, "big": 5, "unbound": "u"}) is None  # missing
    assert plan.command_line({"s": "x", "n": 2**31, "flag": True, "big": 5, "unbound": "u"}) is None  # not an int
    assert plan.command_line({"s": "x", "n": True, "flag": True, "big": 5, "unbound": "u"}) is None  # bool, not int


def test_docker_requirement_is_cwltools(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "d.cwl",
        "requirements: {DockerRequirement: {dockerPull: 'debian:stable-slim'}}\n"
        "baseCommand: echo\ninputs: {}\noutputs: {}\n",
    )
    plan = _tool(path).fast_plan
    assert plan is not None and plan.docker
    from cwltool.context import RuntimeContext

    assert not planning.usable(plan, RuntimeContext({"use_container": True}))
    # with --no-container a required DockerRequirement is cwltool's to refuse (exit 33)
    assert not planning.usable(plan, RuntimeContext({"use_container": False}))


def test_wrong_input_type_is_reported_as_cwltool_does(tmp_path: Path) -> None:
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"message": 42}))
    wf = Path(__file__).resolve().parent.parent / "benchmarks" / "workflows" / "echo.cwl"
    runs = {
        mode: runner_cwl("--quiet", "--outdir", str(tmp_path / mode), str(wf), str(job), env={fastpath.MODE_ENV: mode})
        for mode in ("0", "1")
    }
    assert runs["1"].returncode == runs["0"].returncode == 1
    assert "message" in runs["1"].stderr and "Traceback" not in runs["1"].stderr


def test_outputs_not_where_the_plan_says_are_collected_by_cwltool(tmp_path: Path) -> None:
    tool = _write(
        tmp_path,
        "o.cwl",
        "baseCommand: [sh, -c]\ninputs: {script: {type: string, inputBinding: {}}}\n"
        "outputs: {o: {type: File, outputBinding: {glob: o.txt}}}\n",
    )
    cases = {
        # a symbolic link to a file in the output directory: allowed, followed
        "link": "echo hi > real.txt && ln -s real.txt o.txt",
        # cwl.output.json decides the outputs
        "custom": 'echo hi > x.txt && echo \'{"o": {"class": "File", "path": "x.txt"}}\' > cwl.output.json',
        # the file is missing: cwltool's error, a failed job
        "missing": "true",
        # a symbolic link out of the job's directory: refused
        "escape": f"ln -s {tmp_path / 'o.cwl'} o.txt",
    }
    for name, script in cases.items():
        results = {}
        for mode in ("0", "check"):
            out = tmp_path / f"{name}-{mode}"
            run = runner_cwl(
                "--quiet", "--outdir", str(out), str(tool), "--script", script, env={fastpath.MODE_ENV: mode}
            )
            results[mode] = (run.returncode, run.stdout.replace(str(out), "OUT"))
        assert results["check"] == results["0"], name
        expected = 0 if name in ("link", "custom") else 1
        assert results["check"][0] == expected, name


def test_requirements_from_the_input_object_are_seen(tmp_path: Path) -> None:
    tool = _write(
        tmp_path,
        "env.cwl",
        "baseCommand: [sh, -c, 'echo $TEST_ENV']\ninputs: {in: string}\nstdout: out\n"
        "outputs: {out: {type: File, outputBinding: {glob: out}}}\n",
    )
    job = tmp_path / "job.yml"
    job.write_text(
        'in: "from the input"\ncwl:requirements:\n  - class: EnvVarRequirement\n'
        "    envDef: [{envName: TEST_ENV, envValue: $(inputs.in)}]\n"
    )
    run = runner_cwl("--quiet", "--outdir", str(tmp_path / "o"), str(tool), str(job), env={fastpath.MODE_ENV: "check"})
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "o" / "out").read_text() == "from the input\n"


def test_lazy_job_logs(tmp_path: Path) -> None:
    """Without --log-dir, only a job that wrote to its log, or failed, leaves one."""
    tool = _write(
        tmp_path, "l.cwl", "baseCommand: [sh, -c]\ninputs: {script: {type: string, inputBinding: {}}}\noutputs: {}\n"
    )
    wf = tmp_path / "wf.cwl"
    wf.write_text(
        "cwlVersion: v1.2\nclass: Workflow\nrequirements: {ScatterFeatureRequirement: {}}\n"
        "inputs: {scripts: 'string[]'}\noutputs: {}\n"
        f"steps:\n  s:\n    run: {tool}\n    scatter: script\n    in: {{script: scripts}}\n    out: []\n"
    )
    store = tmp_path / "store"
    run = runner_cwl(
        "--quiet",
        "--jobstore",
        str(store),
        "--keep-jobstore",
        "--outdir",
        str(tmp_path / "o"),
        str(wf),
        "--scripts",
        "true",
        "--scripts",
        "echo said-so >&2",
        "--scripts",
        "exit 3",
    )
    assert run.returncode == 1
    logs = {p.name: p.read_text() for p in (store / "work" / "logs").glob("*.log")}
    assert len(logs) == 2, logs
    said = next(text for text in logs.values() if "said-so" in text)
    assert said.startswith("# runner-cwl job") and "exit code 0" in said
    failed = next(text for text in logs.values() if "said-so" not in text)
    assert "exit 3" in failed and "exit code 3" in failed
    assert sorted(p.name for p in (store / "work" / "logs").iterdir()) == sorted(logs)  # nothing else


def test_output_evals_match_cwltool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """outputEval is cwltool's evaluation with ``self`` as cwltool lists the file."""
    results = {}
    for mode in ("0", "check"):
        monkeypatch.setenv(fastpath.MODE_ENV, mode)
        before = fastpath.jobs_built
        for message, maybe in (("hello", None), ("", "x"), ("a b", "")):
            inputs = {"message": message, **({"maybe": maybe} if maybe is not None else {})}
            out = api.run(str(FAST / "evals.cwl"), inputs, outdir=str(tmp_path / mode / message))
            results.setdefault(mode, []).append(out)
        assert (fastpath.jobs_built - before) == (3 if mode == "check" else 0)
    assert results["check"] == results["0"]
    first = results["check"][0]
    assert first["text"] == "hello\n" and first["size"] == 6 and first["name"] == "out.txt"
    assert first["code"] == 0 and first["echo"] is None and first["flag"] is True and first["cores"] == 1
    assert results["check"][2]["echo"] == ""  # an empty string stays one


@pytest.mark.parametrize("mode", ["check", "0"])
def test_file_inputs_are_staged_as_cwltool_stages_them(tmp_path: Path, mode: str) -> None:
    for i in (1, 2):
        (tmp_path / f"file {i}.txt").write_text(f"content {i}\n")
    (tmp_path / "o.dat").write_text("other\n")
    job = tmp_path / "job.yml"
    job.write_text(
        "files:\n  - {class: File, location: 'file 1.txt'}\n  - {class: File, path: 'file 2.txt'}\n"
        "other: {class: File, location: o.dat}\n"
    )
    out = tmp_path / "out"
    run = runner_cwl(
        "--quiet", "--outdir", str(out), str(FAST / "scatter-cat.cwl"), str(job), env={fastpath.MODE_ENV: mode}
    )
    assert run.returncode == 0, run.stderr
    assert run.json()["name"] == ["file 1.txt/file 1/.txt/10", "file 2.txt/file 2/.txt/10"]
    first = (out / "out.txt").read_text().splitlines()
    assert first[0] == "content 1" and first[1].startswith("--g=") and first[1].endswith("/o.dat")
    assert "/stg" in first[1]  # staged, as cwltool stages host inputs


def test_a_missing_input_file_fails_as_with_cwltool(tmp_path: Path) -> None:
    job = tmp_path / "job.yml"
    job.write_text("f: {class: File, location: nowhere.txt}\n")
    runs = {
        mode: runner_cwl(
            "--quiet", "--outdir", str(tmp_path / mode), str(FAST / "cat.cwl"), str(job), env={fastpath.MODE_ENV: mode}
        )
        for mode in ("0", "1")
    }
    assert runs["1"].returncode == runs["0"].returncode != 0
    assert "nowhere.txt" in runs["1"].stderr and "Traceback" not in runs["1"].stderr


def test_software_requirement_is_planned_unless_dependencies_are_resolved(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "s.cwl",
        "hints: {SoftwareRequirement: {packages: [{package: coreutils}]}}\n"
        "baseCommand: echo\ninputs: {}\noutputs: {}\n",
    )
    plan = _tool(path).fast_plan
    assert plan is not None and plan.software
    from cwltool.context import RuntimeContext

    assert planning.usable(plan, RuntimeContext({"use_container": False}))
    assert not planning.usable(plan, RuntimeContext({"use_container": False, "job_script_provider": object()}))


def test_every_job_finds_an_empty_tmpdir(tmp_path: Path) -> None:
    """Job threads lend their jobs a TMPDIR they keep (jobthreads.LentDirs): whatever a
    job leaves there, the next one still starts with an empty directory, and none
    of them is left behind."""
    items = [f"i{n}" for n in range(12)]
    (tmp_path / "in.json").write_text(json.dumps({"items": items}))
    prefix = tmp_path / "tmp" / "t"
    prefix.parent.mkdir()
    run = runner_cwl(
        "--quiet",
        "--tmpdir-prefix",
        str(prefix),
        "--outdir",
        str(tmp_path / "out"),
        str(FAST / "tmpdir.cwl"),
        str(tmp_path / "in.json"),
        env={fastpath.MODE_ENV: "1"},
    )
    assert run.returncode == 0, run.stderr
    seen = [Path(f["path"]).read_text() for f in run.json()["out"]]
    assert seen == ["ok\n"] * len(items)
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("expression", "keys"),
    [
        ("$(inputs.message)", ("message",)),
        ("$(inputs.f.path)", ("f", "path")),
        ("$(inputs.f['path'])", None),  # other forms: cwl_utils evaluates them
        ("$(inputs.items.length)", ("items", "length")),  # a list's length: cwl_utils, at run time
        (" $(inputs.message)", None),
        ("$(inputs.message)x", None),
        ("$(self[0].size)", None),
        ("$(runtime.cores)", None),
    ],
)
def test_which_output_evals_are_read_straight_from_the_inputs(expression: str, keys: tuple[str, ...] | None) -> None:
    assert planning._input_reference(expression) == keys


def _outdir_scatter(tmp_path: Path, items: list[str], *options: str):  # type: ignore[no-untyped-def]
    """Run fastpath/outdir.cwl over ``items`` with its job store in tmp_path/store."""
    (tmp_path / "in.json").write_text(json.dumps({"items": items}))
    return runner_cwl(
        "--quiet",
        "--jobstore",
        str(tmp_path / "store"),
        *options,
        "--outdir",
        str(tmp_path / "out"),
        str(DATA / "fastpath" / "outdir.cwl"),
        str(tmp_path / "in.json"),
        env={fastpath.MODE_ENV: "1"},
    )


def test_jobs_run_in_lent_output_directories_and_their_files_are_kept_flat(tmp_path: Path) -> None:
    """Job threads lend their jobs an output directory (jobthreads.LentDirs): each job
    starts in an empty one, with HOME there; its output files are renamed beside the
    outdir it was named (job.flat_path), which is never made; what it left besides
    them goes; and the workflow's outputs are the same files with their own names."""
    items = [f"i{n}" for n in range(8)]
    store = tmp_path / "store"
    run = _outdir_scatter(tmp_path, items, "--keep-jobstore")
    assert run.returncode == 0, run.stderr
    outputs = run.json()
    assert [Path(f["path"]).read_text() for f in outputs["out"]] == ["out.txt\nhome\n"] * len(items)
    assert [Path(f["path"]).read_text() for f in outputs["kept"]] == [f"{i}\n" for i in items]
    assert {f["basename"] for f in outputs["out"]} == {"out.txt"}
    assert {f["basename"] for f in outputs["kept"]} == {"kept.txt"}
    work = sorted(p.name for p in (store / "work" / "out").iterdir())
    assert len(work) == 2 * len(items), work  # two files per job, no directory
    assert {name.rsplit("-", 1)[1] for name in work} == {"out.txt", "kept.txt"}


def test_a_failed_job_keeps_the_lent_directory_as_its_own(tmp_path: Path) -> None:
    """A job that does not exit 0 gets the directory it ran in as its outdir, with
    everything it left there, as if it had been made for it."""
    store = tmp_path / "store"
    run = _outdir_scatter(tmp_path, ["a0", "a9", "a2"])
    assert run.returncode == 1
    work = store / "work" / "out"
    dirs = [p for p in work.iterdir() if p.is_dir()]
    assert len(dirs) == 1, sorted(p.name for p in work.iterdir())
    assert sorted(p.name for p in dirs[0].iterdir()) == ["junk", "kept.txt", "out.txt"]
    assert (dirs[0] / "kept.txt").read_text() == "a9\n"
    flat = sorted(p.name.rsplit("-", 1)[1] for p in work.iterdir() if p.is_file())
    assert flat == ["kept.txt", "kept.txt", "out.txt", "out.txt"]

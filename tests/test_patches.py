"""Our replacements for cwltool internals give cwltool's results."""

from __future__ import annotations

import os
import random

import cwltool.process

from cwl_runner import patches


def _reference(stem: str, names: set[str]) -> str:
    c, u = 1, stem
    while u in names:
        c += 1
        u = f"{stem}_{c}"
    names.add(u)
    return u


def test_uniquename_matches_cwltool():
    patches.apply()
    rng = random.Random(7)
    stems = ["step echo", "echo", "echo_3", "job", "echo_2"]
    reference_names = set(cwltool.process._names)
    for _ in range(2000):
        stem = rng.choice(stems)
        assert patches.uniquename(stem) == _reference(stem, reference_names)
    assert reference_names <= cwltool.process._names


def test_uniquename_with_its_own_set_is_cwltools():
    patches.apply()
    names = {"a", "a_2"}
    assert patches.uniquename("a", names) == "a_3"
    assert names == {"a", "a_2", "a_3"}


def test_apply_installs_everywhere():
    import cwltool.command_line_tool
    import cwltool.workflow_job

    patches.apply()
    assert cwltool.command_line_tool.uniquename is patches.uniquename
    assert cwltool.workflow_job.uniquename is patches.uniquename
    assert cwltool.workflow_job.parallel_steps is patches.parallel_steps


def test_shortname_is_cwltools_remembered():
    import cwltool.workflow_job

    patches.apply()
    patched = cwltool.workflow_job.shortname
    assert patched is cwltool.process.shortname
    cells = [c.cell_contents for c in patched.__closure__ or ()]
    original = next(f for f in cells if getattr(f, "__module__", "") == "cwltool.process")  # cwltool's own
    for name in ["file:///a/b.cwl#main/step/in", "file:///a/b.cwl", "#x", "x/y", "", "file:///d/#"]:
        assert patched(name) == original(name)
        assert patched(name) == original(name)  # from the cache


def _cwl_values():
    from hypothesis import strategies as st
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=3))
    classes = st.sampled_from(["File", "Directory", "Other"])

    def extend(children):
        mapping = st.dictionaries(st.sampled_from(["a", "b", "listing", "secondaryFiles"]), children, max_size=3)
        cwl_object = st.builds(lambda c, m: {"class": c, **m}, classes, mapping)
        return st.one_of(
            st.lists(children, max_size=4),
            mapping,
            cwl_object,
            st.builds(lambda m: CommentedMap(m), cwl_object),
            st.builds(lambda items: CommentedSeq(items), st.lists(children, max_size=3)),
        )

    return st.recursive(leaves, extend, max_leaves=25)


def test_walks_match_cwltools():
    """Our visit_* give cwltool's calls, in cwltool's order, with the same effects."""
    import copy

    from hypothesis import given, settings

    patches.apply()

    def recorder(log):
        def op(obj):
            log.append(copy.deepcopy(obj))
            obj["seen"] = len(log)  # ops mutate objects in place, as cwltool's do
            return obj

        return op

    def field_op(log):
        def op(value):
            log.append(copy.deepcopy(value))
            return [value]

        return op

    @settings(max_examples=300, deadline=None)
    @given(_cwl_values())
    def check(value):
        for name in patches.VISITORS:
            theirs, ours = copy.deepcopy(value), copy.deepcopy(value)
            log_theirs, log_ours = [], []
            if name == "visit_class":
                args_t, args_o = (
                    (("File", "Directory"), recorder(log_theirs)),
                    (("File", "Directory"), recorder(log_ours)),
                )
            elif name == "visit_field":
                args_t, args_o = ("listing", field_op(log_theirs)), ("listing", field_op(log_ours))
            else:
                args_t, args_o = (recorder(log_theirs),), (recorder(log_ours),)
            patches.ORIGINAL_VISITORS[name](theirs, *args_t)
            getattr(patches, name)(ours, *args_o)
            assert log_ours == log_theirs and ours == theirs, name

    check()
    import cwltool.utils

    assert cwltool.utils.visit_class is patches.visit_class
    assert cwltool.process.visit_files_directories is patches.visit_files_directories


def test_stage_files_renames_clashes_as_cwltool_does(tmp_path):
    """Final outputs of one name get NAME_2, NAME_3, ... as cwltool names them, also
    when a NAME_N is itself an output's name."""
    from cwltool.pathmapper import PathMapper

    patches.apply()
    rng = random.Random(3)
    names = ["out.txt", "out.txt_3", "a", "out.txt_2_2", "b"]
    files = []
    for i in range(300):
        src = tmp_path / "src" / str(i)
        src.mkdir(parents=True)
        name = rng.choice(names)
        (src / name).write_text(str(i))
        files.append({"class": "File", "location": (src / name).as_uri(), "basename": name})

    def staged(stage) -> dict[str, str]:
        dest = tmp_path / stage.__name__
        dest.mkdir()
        mapper = PathMapper([dict(f) for f in files], "", str(dest), separateDirs=False)
        stage(mapper, stage_func=lambda s, d: os.link(s, d), symlink=False, fix_conflicts=True)
        return {p.name: p.read_text() for p in dest.iterdir()}

    def cwltool_stage_files(*args, **kwargs):
        return patches._original_stage_files(*args, **kwargs)

    def ours(*args, **kwargs):
        return patches.stage_files(*args, **kwargs)

    result = staged(ours)
    assert result == staged(cwltool_stage_files)
    assert len(result) == len(files) and "out.txt_2" in result


def test_steps_alike_share_one_tool(tmp_path):
    """A `run:` file is loaded once for steps that inherit the same requirements; a step
    whose requirements differ gets its own tool; the next load reads the file again."""
    from cwltool.context import LoadingContext
    from cwltool.load_tool import load_tool

    from cwl_runner.factory import make_tool

    patches.apply()
    tool = tmp_path / "echo.cwl"
    tool.write_text(
        "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\n"
        "inputs: {m: {type: string, inputBinding: {}}}\noutputs: {o: stdout}\n"
    )
    wf = tmp_path / "wf.cwl"
    wf.write_text(
        "cwlVersion: v1.2\nclass: Workflow\ninputs: {m: string}\noutputs: {}\nsteps:\n"
        "  a: {run: echo.cwl, in: {m: m}, out: [o]}\n"
        "  b: {run: echo.cwl, in: {m: m}, out: [o]}\n"
        "  c:\n    run: echo.cwl\n    in: {m: m}\n    out: [o]\n"
        "    requirements: {EnvVarRequirement: {envDef: {X: y}}}\n"
    )

    def load():
        context = LoadingContext()
        context.construct_tool_object = make_tool
        return {shortname(s.id): s.embedded_tool for s in load_tool(str(wf), context).steps}

    from cwltool.process import shortname

    steps = load()
    assert steps["a"] is steps["b"]
    assert steps["c"] is not steps["a"]
    assert [r["class"] for r in steps["c"].requirements] == ["EnvVarRequirement"]
    assert not steps["a"].get_requirement("EnvVarRequirement")[0]
    # a new load (an embedding program running again) reads the file again
    tool.write_text(tool.read_text().replace("baseCommand: echo", "baseCommand: [echo, -n]"))
    edited = load()
    assert edited["a"] is edited["b"] and edited["a"].tool["baseCommand"] == ["echo", "-n"]


def test_each_process_starts_from_its_own_copy_of_the_base_names(tmp_path):
    """Process.__init__'s names of File, Directory and Any are built once and copied:
    each tool gets the names cwltool would build, and what one tool adds to its own
    (its input and output records, its SchemaDefRequirement types) no other sees."""
    from cwltool.context import LoadingContext
    from cwltool.load_tool import load_tool

    from cwl_runner.factory import make_tool

    patches.apply()
    tool = tmp_path / "t.cwl"
    tool.write_text(
        "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\n"
        "requirements:\n  SchemaDefRequirement:\n    types:\n"
        "      - {name: Pair, type: record, fields: {a: string, b: int}}\n"
        "inputs: {p: {type: Pair}}\noutputs: {o: stdout}\n"
    )
    other = tmp_path / "u.cwl"
    other.write_text("cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\ninputs: {}\noutputs: {}\n")

    def load(path):
        context = LoadingContext()
        context.construct_tool_object = make_tool
        return load_tool(str(path), context)

    first, second = load(tool), load(other)
    base = patches_original_names()
    own = set(first.names.names) - set(base.names)
    assert set(base.names) <= set(first.names.names) and any(name.endswith("Pair") for name in own)
    assert not any(name.endswith("Pair") for name in second.names.names), "one tool's type leaked into another's"
    assert first.names.names is not second.names.names
    file_schema = "org.w3id.cwl.cwl.File"
    assert first.names.names[file_schema] is second.names.names[file_schema], "built once"
    for name in base.names:  # the same schemas as cwltool's own construction
        ours, theirs = first.names.names[name], base.names[name]
        assert (type(ours), ours.type, ours.props.keys()) == (type(theirs), theirs.type, theirs.props.keys())


def patches_original_names():
    from schema_salad.ref_resolver import Loader
    from schema_salad.schema import make_avro_schema

    process = cwltool.process
    return make_avro_schema([process.SCHEMA_FILE, process.SCHEMA_DIR, process.SCHEMA_ANY], Loader({}))


def _step_inputs(edges: list[tuple[int, int]]) -> list[dict]:
    """cwltool's step inputs for edges (a, b): step b takes step a's output."""
    sources: dict[int, list[str]] = {}
    for a, b in edges:
        sources.setdefault(b, []).append(f"file:///wf.cwl#s{a}/out")
    return [{"id": f"file:///wf.cwl#s{b}/in", "source": srcs} for b, srcs in sorted(sources.items())]


def _outcome(check, inputs) -> str:
    try:
        check(inputs)
    except Exception as err:  # noqa: BLE001 - the message is what is compared
        return f"{type(err).__name__}: {err}"
    return "ok"


def test_circular_dependencies_are_found_as_cwltool_finds_them():
    from cwltool.checker import circular_dependency_checker as cwltools

    rng = random.Random(7)
    found_cycles = 0
    for _ in range(300):
        n = rng.randrange(2, 12)
        edges = [(rng.randrange(n), rng.randrange(n)) for _ in range(rng.randrange(1, 3 * n))]
        inputs = _step_inputs(edges)
        theirs = _outcome(cwltools, inputs)
        assert _outcome(patches.circular_dependency_checker, inputs) == theirs
        found_cycles += theirs != "ok"
    assert found_cycles > 30  # the cases did include cycles


def test_a_deep_workflow_is_checked_without_recursion_and_in_linear_time():
    from cwltool.checker import circular_dependency_checker as cwltools

    chain = _step_inputs([(i, i + 1) for i in range(5000)])
    assert "RecursionError" in _outcome(cwltools, chain)  # cwltool's own cannot load it
    assert _outcome(patches.circular_dependency_checker, chain) == "ok"
    looped = _step_inputs([(i, i + 1) for i in range(5000)] + [(5000, 10)])
    assert _outcome(patches.circular_dependency_checker, looped).startswith("ValidationException: The following")


def test_the_final_output_is_printed_as_cwltool_prints_it():
    """cwltool.main prints the output object with patches.json_dump (one write) and
    gives each File its path with relocate._path: the same text as schema-salad's
    json_dump, written at once."""
    import io

    import cwltool.main
    from ruamel.yaml.comments import CommentedMap
    from schema_salad.utils import json_dump

    patches.apply()
    assert cwltool.main.json_dump is patches.json_dump
    out = {
        "files": [
            {"class": "File", "location": f"file:///tmp/o/out.txt_{i}", "basename": "out.txt", "size": i}
            for i in range(50)
        ],
        "text": 'naïve ☃ "quoted"\n',
        "nested": CommentedMap([("b", [1.5, None, True]), ("a", {"x": []})]),
        "other": object(),
    }
    ours, theirs = io.StringIO(), io.StringIO()
    writes = []
    ours.write = lambda text, _write=ours.write: (writes.append(text), _write(text))[1]  # type: ignore[method-assign]
    patches.json_dump(out, ours, indent=4, ensure_ascii=False, default=str)
    json_dump(out, theirs, indent=4, ensure_ascii=False, default=str)
    assert ours.getvalue() == theirs.getvalue()
    assert len(writes) == 1

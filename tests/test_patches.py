"""Our replacements for cwltool internals give cwltool's results."""

from __future__ import annotations

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

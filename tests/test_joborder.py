"""JSON input objects read without the YAML parser (joborder.py): the very objects
ruamel's round-trip loader gives (types, lines and columns, flow style), the same job
order out of cwltool's load_job_order, and the YAML parser for anything else."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from typing import Any

import pytest
from conftest import DATA, same_yaml_tree
from schema_salad.utils import yaml_no_ts

from cwl_runner import joborder

SCATTER = DATA.parent.parent / "benchmarks" / "workflows" / "scatter.cwl"


TEXTS = [
    '{"items": ["0", "1", "2"]}',
    '{\n  "a": [1, -2, "x", true, false, null, {"b": "c"}, [], {}],\n'
    '  "d": {"e": "\\u00e9\\n\\"q\\" \\\\ \\/"}, "f": "\u00e9 \u00fcn\u00ef"\n}\n',
    '  \n\n {"file": {"class": "File", "location": "a b.txt"}, "n": 12345678901234567890, "z": 0, "m": -0}',
    json.dumps({"items": [str(i) for i in range(50)], "nested": [[{"x": [1, 2, {"y": None}]}]]}, indent=2),
    '{"a":1}\r\n',
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_json_object_is_what_the_yaml_parser_makes_of_it(text):
    ours = joborder.parse(text)
    assert ours is not None
    same_yaml_tree(ours, yaml_no_ts().load(io.StringIO(text)))


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1.5}',  # ruamel keeps a float's formatting
        '{"a": 1e5}',
        '{"a": 1, "a": 2}',  # the YAML parser reports the duplicate, with its place
        '{"a": "\\ud83d\\ude00"}',
        '["a"]',
        '{"a":\t1}',
        '{"a": 1} x',
        '{"a": 01}',
        '\ufeff{"a": 1}',
        '{"a": "x\x7fy"}',
        '{"a": 1}\r{"b": 2}',
        "a: 1",
    ],
)
def test_anything_else_is_the_yaml_parsers(text):
    assert joborder.parse(text) is None


def test_cwltools_load_job_order_gives_the_same_job_order(tmp_path, monkeypatch):
    import cwltool.main

    joborder.install()
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"items": ["a", "b"], "file": {"class": "File", "path": "x.txt"}}, indent=1))
    args = argparse.Namespace(job_order=[str(inputs)], basedir=None, tool_help=False, workflow="wf.cwl")
    parsed: list[Any] = []
    real_parse = joborder.parse
    monkeypatch.setattr(joborder, "parse", lambda text: parsed.append(real_parse(text)) or parsed[-1])
    ours, base, _ = cwltool.main.load_job_order(args, sys.stdin, None, [], "file:///wf.cwl")
    assert parsed and parsed[0] is not None and ours is parsed[0], "not read by joborder.parse"
    theirs, their_base, _ = joborder._original(args, sys.stdin, None, [], "file:///wf.cwl")
    assert base == their_base
    same_yaml_tree(ours, theirs)
    assert ours.lc.filename == theirs.lc.filename


def test_an_invalid_json_input_is_still_reported_at_its_line(run_cwl, tmp_path):
    inputs = tmp_path / "bad.json"
    inputs.write_text('{\n "items": [\n  "a",\n  3\n ]\n}\n')
    assert joborder.parse(inputs.read_text()) is not None  # the fast way
    result = run_cwl("--outdir", str(tmp_path / "o"), str(SCATTER), str(inputs))
    assert result.returncode == 1
    assert "bad.json:4:3: item is invalid because the value is not string" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_big_json_input_runs(run_cwl, tmp_path):
    inputs = tmp_path / "in.json"
    inputs.write_text(json.dumps({"items": [str(i) for i in range(30)]}))
    result = run_cwl("--outdir", str(tmp_path / "o"), str(SCATTER), str(inputs))
    assert result.returncode == 0, result.stderr
    assert len(result.json()["outs"]) == 30


def test_the_runner_cwl_command_reads_json_inputs_the_fast_way(tmp_path):
    """In a real run the JSON file is parsed by joborder.parse, not ruamel."""
    inputs = tmp_path / "in.json"
    inputs.write_text(json.dumps({"items": ["x"]}))
    code = (
        "import sys; from cwl_runner import joborder, cli\n"
        "seen = []\n"
        "real = joborder.parse\n"
        "joborder.parse = lambda text: seen.append(1) or real(text)\n"
        f"sys.argv = ['runner-cwl', '--quiet', '--outdir', {str(tmp_path / 'o')!r}, "
        f"{str(SCATTER)!r}, {str(inputs)!r}]\n"
        "import atexit; atexit.register(lambda: sys.stderr.write(f'parsed={len(seen)}'))\n"
        "cli.run()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "parsed=1" in done.stderr

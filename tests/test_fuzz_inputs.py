"""Fuzzing input objects (job files) against the loader: never a traceback, always one clear error.

Hypothesis writes job files (arbitrary text, and JSON objects shaped like input
objects: the tool's input names with values of any type, File and Directory
objects with fields of any type) and runs ``runner-cwl`` on them in-process.
Every run must end with exit 0 (the rare valid object), 1 with exactly one
``ERROR`` line, or 2 (argparse's usage error); never with a traceback.
Derandomized: CI tries the same examples every time.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile

from conftest import DATA
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cwl_runner.cli import main

TOOL = str(DATA / "typed.cwl")
NAMES = ["n", "x", "s", "f", "d", "flags", "mode", "rec"]
TRIED = {"text": 0, "objects": 0}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)  # fmt: skip
file_like = st.fixed_dictionaries(
    {"class": st.sampled_from(["File", "Directory", "Other"]) | st.text(max_size=5)},
    optional={
        "location": st.sampled_from(["/nonexistent", "file:///nope", "http://[::1", "", ".", "_:x"]) | values,
        "path": st.text(max_size=20) | values,
        "basename": values,
        "contents": values,
        "secondaryFiles": values | st.lists(st.fixed_dictionaries({"class": st.just("File"), "location": values})),
        "listing": values,
        "size": values,
        "format": values,
    },
)
input_objects = st.dictionaries(
    st.sampled_from(NAMES) | st.text(max_size=8),
    values | file_like | st.lists(file_like, max_size=3),
    max_size=8,
)


def _run(text: bytes, suffix: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        job = os.path.join(tmp, "job" + suffix)
        with open(job, "wb") as handle:
            handle.write(text)
        out_path, err_path = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
        # as a terminal's would, the streams escape what they cannot encode
        with (
            open(out_path, "w", errors="backslashreplace") as out,
            open(err_path, "w", errors="backslashreplace") as err,
        ):
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(["--quiet", "--outdir", os.path.join(tmp, "out"), TOOL, job])
                except SystemExit as exit_:  # argparse
                    code = exit_.code if isinstance(exit_.code, int) else 2
        with open(err_path, encoding="utf-8", errors="replace") as handle:
            return code, handle.read()


def _check(code: int, err: str) -> None:
    # what a failure shows must cross to pytest-xdist's controller (UTF-8 only)
    err = err.encode("utf-8", "backslashreplace").decode("utf-8")
    assert "Traceback" not in err, err
    assert "Unhandled error" not in err, err  # a crash, however politely worded
    assert code in (0, 1, 2), (code, err)
    if code == 1 and "job(s) failed" not in err:
        errors = [line for line in err.splitlines() if line.startswith(("ERROR", "runner-cwl:"))]
        assert len(errors) == 1, err
        assert len(errors[0]) > len("ERROR ") + 10, err
    if code == 2:
        assert "error:" in err, err


FAST = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow],
    "phases": [Phase.explicit, Phase.generate],  # no shrinking: a failure prints its example as found
}


@settings(max_examples=100, **FAST)
@given(input_objects, st.sampled_from([".json", ".yml"]))
def test_fuzzed_input_objects(obj, suffix):
    TRIED["objects"] += 1
    text = json.dumps(obj).encode()
    code, err = _run(text, suffix)
    # FUZZ_DUMP=/tmp/fail keeps a crashing job file, to replay with runner-cwl --debug
    if os.environ.get("FUZZ_DUMP") and ("Unhandled" in err or "Traceback" in err):
        with open(os.environ["FUZZ_DUMP"] + suffix, "wb") as handle:
            handle.write(text)
    _check(code, err)


@settings(max_examples=50, **FAST)
@given(st.binary(max_size=60) | st.text(max_size=60).map(str.encode))
def test_fuzzed_job_file_text(data):
    TRIED["text"] += 1
    _check(*_run(data, ".yml"))


def test_a_location_that_is_no_file_name_is_a_validation_error():
    """Found by the fuzzer: YAML (which cwltool reads JSON job files with) turns the
    JSON escape of a character outside the BMP into two lone surrogates, which no file
    name can hold: os.stat raised UnicodeEncodeError, an "Unhandled error"."""
    text = json.dumps({"f": {"class": "File", "location": "\U0006c529"}}).encode()
    assert b"\\ud" in text  # the escape YAML reads as lone surrogates
    for suffix in (".json", ".yml"):
        code, err = _run(text, suffix)
        _check(code, err)
        assert code == 1 and "is not a file name" in err, err

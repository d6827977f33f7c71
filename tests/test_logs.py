"""Error trees from schema-salad become one line."""

from __future__ import annotations

from cwl_runner.logs import first_leaf

UNKNOWN_FIELD = """\
data/unknown-field.cwl:1:1: Object 'data/unknown-field.cwl' is not valid because
                              tried 'CommandLineTool' but
data/unknown-field.cwl:6:1:     invalid field 'colour', expected one of: 'id', 'label', 'doc',
                                'inputs', 'outputs'"""

WRONG_ITEM = """\
wrongtype2.yml:1:1:    the 'seconds' field is not valid because
wrongtype2.yml:1:14:   item is invalid because
                         the value "'x'" is not float or double"""

YAML_ERROR = """\
data/yaml-error.cwl:3:9: while parsing a flow sequence
data/yaml-error.cwl:5:1:   expected ',' or ']', but got '<stream end>'"""

TWO_PROBLEMS = """\
wf.cwl:1:1: checking field 'steps'
wf.cwl:5:3:   checking object 'a'
wf.cwl:6:5:     Field 'run' is not valid
wf.cwl:9:3:   checking object 'b'
wf.cwl:10:5:    Field 'in' is not valid"""


def test_deepest_line_wins():
    assert first_leaf(UNKNOWN_FIELD) == (
        "data/unknown-field.cwl:6:1: invalid field 'colour', expected one of: "
        "'id', 'label', 'doc', 'inputs', 'outputs'",
        0,
    )
    assert first_leaf(YAML_ERROR) == ("data/yaml-error.cwl:5:1: expected ',' or ']', but got '<stream end>'", 0)


def test_because_is_never_the_answer():
    assert first_leaf(WRONG_ITEM) == (
        "wrongtype2.yml:1:14: item is invalid because the value \"'x'\" is not float or double",
        0,
    )


def test_other_problems_are_counted():
    assert first_leaf(TWO_PROBLEMS) == ("wf.cwl:6:5: Field 'run' is not valid", 1)


def test_plain_text_passes_through():
    assert first_leaf("something went wrong") == ("something went wrong", 0)

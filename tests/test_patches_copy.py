"""The ruamel deep copy drop-ins give what ruamel's own __deepcopy__ gives."""

from __future__ import annotations

import copy
import io

from conftest import same_yaml_tree
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from cwl_runner import patches

DOC = """\
base: &base {a: 1, b: [1, 2]}  # a comment
merged:
  <<: *base
  c: three
list:
  - {position: [1, message], datum: a}   # item comment
  - plain
  - [nested, [deeper, {x: 1}]]
shared: *base
"""


def _ruamel_copy(obj):
    saved = dict(copy._deepcopy_dispatch)  # type: ignore[attr-defined]
    copy._deepcopy_dispatch.pop(CommentedMap, None)  # type: ignore[attr-defined]
    copy._deepcopy_dispatch.pop(CommentedSeq, None)  # type: ignore[attr-defined]
    try:
        return copy.deepcopy(obj)
    finally:
        copy._deepcopy_dispatch.update(saved)  # type: ignore[attr-defined]


def test_fast_copies_equal_ruamels_and_are_independent():
    patches.apply()
    doc = YAML(typ="rt").load(io.StringIO(DOC))
    fast, slow = copy.deepcopy(doc), _ruamel_copy(doc)
    same_yaml_tree(fast, slow, comments=True)  # comments included: ruamel's own copy drops some, so do we
    assert fast == doc
    assert fast["shared"] is fast["base"]  # aliasing kept, as the memo keeps it
    fast["list"][0].lc.add_kv_line_col("new", [9, 9, 9, 9])
    fast["list"].lc.data[0][0] = 99
    assert "new" not in doc["list"][0].lc.data and doc["list"].lc.data[0][0] != 99

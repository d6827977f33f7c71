"""The input object (job order) file, read without the YAML parser when it is JSON.

cwltool reads an input object with ruamel's round-trip YAML parser, pure Python at
~90 µs per item: a 10,000-item scatter's JSON inputs take 0.9 s before anything runs.
For a local file that is a JSON object, :func:`parse` builds the very objects that
parser would (``CommentedMap``/``CommentedSeq`` in flow style, strings as
``DoubleQuotedScalarString``, their lines and columns, the file name) with the json
module's C string scanner; :func:`install` hands them to cwltool's own
``load_job_order``, which then resolves and validates them as ever (so an invalid
input is still reported at its ``file:line``). Anything the YAML parser would read
differently or reject (floats, whose formatting ruamel keeps; duplicate keys;
surrogate escapes; characters YAML does not allow; anything that is not a JSON
object) is left to it.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Callable
from json.decoder import scanstring  # type: ignore[attr-defined]  # C, not in typeshed
from typing import Any

_original: Any = None

#: what ruamel's reader refuses (ruamel.yaml.reader.Reader.NON_PRINTABLE)
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACE = re.compile(r"[ \t\n\r]*")
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)(?=[\s,\]}]|$)")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
#: what the YAML reader counts as a line break or reads otherwise than JSON (a tab)
_YAML_ONLY = re.compile("\r(?!\n)|[\x85\u2028\u2029\t]")


class _NotPlain(Exception):
    """Something only the YAML parser should read."""


def install() -> None:
    """Make cwltool's ``load_job_order`` read JSON input files through :func:`parse`."""
    global _original
    import cwltool.main

    if _original is None:
        _original = cwltool.main.load_job_order
    cwltool.main.load_job_order = load_job_order  # type: ignore[assignment]


def load_job_order(args: Any, *rest: Any, **kwargs: Any) -> Any:
    """``cwltool.main.load_job_order``; a JSON file it would fetch comes parsed."""
    import cwltool.main

    job_order = getattr(args, "job_order", None)
    preset = None
    if isinstance(job_order, list) and len(job_order) == 1 and not str(job_order[0]).startswith("-"):
        preset = _read(job_order[0])
    if preset is None:
        return _original(args, *rest, **kwargs)
    url, document = preset
    real_loader = cwltool.main.Loader

    class SeededLoader(real_loader):  # type: ignore[misc,valid-type]
        """cwltool's loader, which finds the file already parsed when it fetches it
        (and does with it what Loader.fetch does after parsing: the ids, the index)."""

        def fetch(self, fetched: str, inject_ids: bool = True, content_types: Any = None) -> Any:
            if fetched != url or fetched in self.idx:
                return super().fetch(fetched, inject_ids, content_types)
            if inject_ids and self.identifiers:
                missing = True
                for identifier in self.identifiers:
                    if identifier in document:
                        missing = False
                        self.idx[self.expand_url(document[identifier], url, scoped_id=True)] = document
                if missing:
                    document[self.identifiers[0]] = url
            self.idx[url] = document
            return document

    cwltool.main.Loader = SeededLoader  # type: ignore[misc]
    try:
        return _original(args, *rest, **kwargs)
    finally:
        cwltool.main.Loader = real_loader  # type: ignore[misc]


def _read(path: str) -> tuple[str, Any] | None:
    """(the file's URL, its parsed object) for a local JSON object file, else None."""
    if "://" in path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return None
    document = parse(text)
    if document is None:
        return None
    from schema_salad.ref_resolver import file_uri
    from schema_salad.sourceline import add_lc_filename

    url = file_uri(os.path.abspath(path))
    add_lc_filename(document, url)
    return url, document


def parse(text: str) -> Any:
    """``text`` as ruamel's round-trip loader (schema-salad's) gives it, when it is a
    JSON object the two read alike; None otherwise."""
    if not text.lstrip(" \r\n").startswith("{"):
        return None
    if _NON_PRINTABLE.search(text) or _SURROGATE_ESCAPE.search(text) or _YAML_ONLY.search(text):
        return None
    try:
        return _Parser(text).document()
    except (_NotPlain, ValueError, IndexError, RecursionError):
        return None


class _Parser:
    def __init__(self, text: str) -> None:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq
        from ruamel.yaml.scalarint import ScalarInt
        from ruamel.yaml.scalarstring import DoubleQuotedScalarString

        self.text = text
        self.lines = [0] + [m.end() for m in re.finditer("\n", text)]
        self.map_type, self.seq_type, self.str_type = CommentedMap, CommentedSeq, DoubleQuotedScalarString
        self.zero = ScalarInt

    def where(self, at: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.lines, at) - 1
        return line, at - self.lines[line]

    def skip(self, at: int) -> int:
        return _SPACE.match(self.text, at).end()  # type: ignore[union-attr]

    def document(self) -> Any:
        at = self.skip(0)
        value, at = self.value(at)
        if self.skip(at) != len(self.text):
            raise _NotPlain("text after the object")
        return value

    def value(self, at: int) -> tuple[Any, int]:
        text = self.text
        char = text[at]
        if char == "{":
            return self.mapping(at)
        if char == "[":
            return self.sequence(at)
        if char == '"':
            string, end = scanstring(text, at + 1, True)
            return self.str_type(string), end
        for word, meaning in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, at):
                return meaning, at + len(word)
        number = _INTEGER.match(text, at)
        if number is None:  # a float (ruamel keeps its formatting) or not JSON
            raise _NotPlain(f"at {at}")
        digits = number.group()
        if digits.lstrip("-") == "0":  # ruamel: a number with a leading zero keeps its width
            return self.zero(0, width=1), number.end()
        return int(digits), number.end()

    def mapping(self, at: int) -> tuple[Any, int]:
        return self.collection(at, self.map_type(), "}", self.member)

    def sequence(self, at: int) -> tuple[Any, int]:
        return self.collection(at, self.seq_type(), "]", self.item)

    def collection(self, at: int, result: Any, close: str, entry: Callable[[Any, int], int]) -> tuple[Any, int]:
        """``result`` filled with the entries from ``at`` (its opening bracket) to ``close``."""
        text = self.text
        result._yaml_set_line_col(*self.where(at))
        at = self.skip(at + 1)
        if text[at] == close:
            return result, at + 1  # ruamel marks no style on an empty one
        result.fa.set_flow_style()
        while True:
            at = self.skip(entry(result, at))
            if text[at] == ",":
                at = self.skip(at + 1)
            elif text[at] == close:
                return result, at + 1
            else:
                raise _NotPlain("no comma")

    def member(self, result: Any, at: int) -> int:
        """One ``"key": value`` of a mapping, from ``at``; where it ends."""
        text = self.text
        if text[at] != '"':
            raise _NotPlain("a key that is not a string")
        key_at = at
        key, at = scanstring(text, at + 1, True)
        if key in result:
            raise _NotPlain("a duplicate key")  # the YAML parser says where
        at = self.skip(at)
        if text[at] != ":":
            raise _NotPlain("no colon")
        value_at = at = self.skip(at + 1)
        value, at = self.value(at)
        key = self.str_type(key)
        result[key] = value
        result._yaml_set_kv_line_col(key, [*self.where(key_at), *self.where(value_at)])
        return at

    def item(self, result: Any, at: int) -> int:
        """One value of a sequence, from ``at``; where it ends."""
        value, end = self.value(at)
        result.append(value)
        result._yaml_set_idx_line_col(len(result) - 1, list(self.where(at)))
        return end

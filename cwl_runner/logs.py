"""What users see on stderr: no tracebacks unless --debug, one line per bad input.

cwltool logs some expected errors (a missing file in a scatter, an expression
error) with their Python traceback, and reports a document that fails
validation as a tree of every branch it tried. Our handler keeps the stream
but shortens both: tracebacks only with ``--debug``, and a validation tree down
to its first leaf, ``file:line:col: what is wrong``.
"""

from __future__ import annotations

import logging
import re
import sys

_POSITION = re.compile(r"^(?P<where>\S.*?:\d+:\d+:)(?P<indent>\s*)(?P<text>.*)$")
_TREE_HEADER = re.compile(r"^(Tool definition .*?failed validation|Input object failed validation):\s*\n", re.DOTALL)


def first_leaf(tree: str) -> tuple[str, int]:
    """The first most specific line of a schema-salad error tree, and how many others there are.

    Nesting shows as the column where an entry's text starts; an entry that ends
    in "because" or "but" introduces its causes and is never a leaf.
    """
    entries: list[list] = []  # [where, column, text]
    for line in tree.splitlines():
        match = _POSITION.match(line)
        if match:
            entries.append([match["where"], match.start("text"), match["text"].strip()])
        elif entries and line.strip():
            entries[-1][2] += " " + line.strip()  # a wrapped continuation
        elif line.strip():
            entries.append(["", 0, line.strip()])
    if not entries:
        return tree.strip(), 0

    def is_leaf(i: int) -> bool:
        deeper = i + 1 < len(entries) and entries[i + 1][1] > entries[i][1]
        return not deeper and not entries[i][2].endswith(("because", " but"))

    leaves = [i for i in range(len(entries)) if is_leaf(i)] or [len(entries) - 1]
    where, _, text = entries[leaves[0]]
    return (f"{where} {text}" if where else text), len(leaves) - 1


_RAW_INPUT = re.compile(r"\.?\nRaw input object:\n.*", re.DOTALL)
_SORRY = re.compile(
    r"^I'm sorry, I couldn't load this CWL file, try again with --debug for more information\.\n"
    r"The error was: (?P<error>.*)",
    re.DOTALL,
)


def fold(message: str) -> str:
    """cwltool's multi-line messages about an unusable input object, as one line."""
    message = _RAW_INPUT.sub("", message)  # the whole object again: can be huge
    sorry = _SORRY.match(message)
    if sorry:
        message = "cannot load: " + " ".join(sorry["error"].split())
    return message


class UserFacingFilter(logging.Filter):
    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug = debug

    def filter(self, record: logging.LogRecord) -> bool:
        if self.debug:
            return True
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        if record.levelno >= logging.ERROR:
            message = record.getMessage()
            header = _TREE_HEADER.match(message)
            if header:
                leaf, others = first_leaf(message[header.end() :])
                more = f" (and {others} more; --debug shows all)" if others else ""
                record.msg, record.args = f"{' '.join(header[1].split())}: {leaf}{more}", None
            else:
                folded = fold(message)
                if folded != message:
                    record.msg, record.args = folded, None
        # cwltool logs a bare "Unexpected exception" (with a traceback) before the real error
        return record.getMessage() != "Unexpected exception"


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record.

    The live display (``progress.py``) swaps ``sys.stderr`` for a proxy that
    prints above it; a handler that kept the original stream would garble it.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # type: ignore[no-untyped-def]
        pass


def make_handler(debug: bool) -> logging.Handler:
    handler = StderrHandler()
    handler.addFilter(UserFacingFilter(debug))
    return handler


class _DropLoggedExceptions(logging.Filter):
    """cwl_utils logs an expression's exception (with its traceback) and then raises it;
    cwltool reports the raised error, so the logged copy only doubles it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is None


def quiet_libraries(debug: bool) -> None:
    """Without --debug, no traceback from the libraries cwltool calls (cwl_utils)."""
    logger = logging.getLogger("cwl_utils")
    if not debug and not any(isinstance(f, _DropLoggedExceptions) for f in logger.filters):
        logger.addFilter(_DropLoggedExceptions())


def info_wanted(logger: logging.Logger) -> bool:
    """Whether an INFO record of ``logger`` would reach any handler.

    cwltool's ``--quiet`` raises its stderr handler's level, not the logger's, so
    ``isEnabledFor(INFO)`` stays true and every per-job INFO line is formatted
    for nothing (~30 us a record, two or three records a job). A handler added
    later (provenance's log file) is seen at the next call.
    """
    if not logger.isEnabledFor(logging.INFO):
        return False
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if handler.level <= logging.INFO:
                return True
        if not current.propagate:
            return False
        current = current.parent
    return logging.lastResort is not None and logging.lastResort.level <= logging.INFO

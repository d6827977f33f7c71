"""runner-cwl: a concurrent CWL v1.0-v1.2 workflow executor built on cwltool.

Public API:

- :func:`run` runs a CWL document with an input object and returns the output object.
- :class:`Executor` is a cwltool executor: ``cwltool.main.main(argv, executor=Executor())``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Executor", "run", "__version__"]

if TYPE_CHECKING:
    from .executor import Executor


def __getattr__(name: str) -> Any:
    # imported lazily: `runner-cwl --version` should not pay for cwltool
    if name == "Executor":
        from .executor import Executor

        return Executor
    raise AttributeError(name)


def run(
    process: str, inputs: dict[str, Any] | None = None, outdir: str | None = None, **options: Any
) -> dict[str, Any]:
    from .api import run as _run

    return _run(process, inputs or {}, outdir=outdir, **options)

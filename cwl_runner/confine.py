"""No output escapes its job: every File and Directory a job reports must lie in
the job's output directory (after resolving ``..`` and symbolic links), or be one
of the job's own inputs passed through.

cwltool already refuses absolute glob patterns and absolute output paths, but
checks the others as text: a glob ``../*``, a ``cwl.output.json`` path with
``..``, or a symbolic link the tool leaves in its output directory would
otherwise bring files from anywhere on the machine into ``--outdir``. A
basename with a ``/`` (from ``cwl.output.json``) is refused too: it would place
the exported copy outside ``--outdir``.
"""

from __future__ import annotations

import os
from typing import Any

from cwltool.errors import WorkflowException
from cwltool.utils import visit_class
from schema_salad.ref_resolver import uri_file_path


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Confinement:
    """The places a job's outputs may come from: its output directory and its inputs."""

    def __init__(self, outdir: str, inputs: list[tuple[str, str]]) -> None:
        self.roots = [os.path.realpath(outdir)]
        self.files: set[str] = set()
        for path, kind in inputs:
            real = os.path.realpath(path)
            if kind.endswith("Directory"):
                self.roots.append(real)
            else:
                self.files.add(real)

    def allows(self, path: str) -> bool:
        real = os.path.realpath(path)
        return real in self.files or any(_inside(real, root) for root in self.roots)

    def check(self, outputs: Any) -> None:
        """Raise WorkflowException naming the first output that escapes."""

        def one(obj: dict[str, Any]) -> None:
            basename = obj.get("basename")
            if isinstance(basename, str) and ("/" in basename or basename in (".", "..")):
                raise WorkflowException(f"output basename {basename!r} is not a plain file name")
            location = obj.get("location")
            if not isinstance(location, str) or not location.startswith("file://"):
                return
            path = uri_file_path(location)
            if not self.allows(path):
                raise WorkflowException(
                    f"output {path} resolves to {os.path.realpath(path)}, outside the job's output "
                    "directory and its inputs: refused"
                )
            if obj.get("class") == "Directory" and os.path.isdir(path) and not os.path.islink(path):
                for top, dirs, files in os.walk(path):
                    for name in dirs + files:
                        entry = os.path.join(top, name)
                        if os.path.islink(entry) and not self.allows(entry):
                            raise WorkflowException(
                                f"output directory {path} holds {entry}, a symbolic link to "
                                f"{os.path.realpath(entry)} outside the job's output directory and its inputs: refused"
                            )

        visit_class(outputs, ("File", "Directory"), one)

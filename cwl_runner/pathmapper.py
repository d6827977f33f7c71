"""Staging files without copying them.

cwltool's PathMapper decides *where* each input appears in a job (host path,
container path); this module decides *how* bytes get there: a hard link when
source and target share a filesystem, a symbolic link otherwise, and a copy
only when neither can be made.
"""

from __future__ import annotations

import errno
import os
import shutil


def link_or_copy(source: str, target: str) -> str:
    """Make ``target`` show the contents of ``source``; return how ("hardlink", ...)."""
    if os.path.lexists(target):
        os.unlink(target)
    real = os.path.realpath(source)
    if os.path.isdir(real):
        os.symlink(real, target)
        return "symlink"
    try:
        os.link(real, target)
        return "hardlink"
    except OSError as err:
        if err.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES):
            raise
    try:
        os.symlink(real, target)
        return "symlink"
    except OSError:
        shutil.copy2(real, target)
        return "copy"


def link_or_copy_file(source: str, target: str) -> str:
    """A hard link to ``source`` at ``target`` (same bytes, no copy), else a copy
    (shutil.copy2's signature, for copytree); returns ``target``."""
    try:
        os.link(source, target)
        return target
    except OSError:
        return str(shutil.copy2(source, target))

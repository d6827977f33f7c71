"""A disk cache of cwltool's parsed CWL schemas: start-up in a fraction of the time.

Every cwltool process parses the CWL schema YAML with ruamel before it can load a
document, at least twice (v1.0, whose File/Directory/Any records every Process
uses, and the document's own version): about 0.4 s each. The result is plain data
(schema-salad Loaders and Avro Names), so we pickle it once per cwltool and
schema-salad version and put it back into ``cwltool.process.SCHEMA_CACHE`` before
cwltool looks. Any problem with the cache (missing, stale, unreadable) falls
back to cwltool's own loading; ``RUNNER_CWL_NO_SCHEMA_CACHE=1`` turns it off.

schema-salad's own metaschema goes in the same file: every Process that cwltool
makes builds Avro names, which needs the metaschema's vocabulary, and
schema-salad parses its 16 YAML files for it once per process (~0.1 s, a sixth of
a single tool's start-up). It is put back as ``schema_salad.schema``'s cached
metaschema, which ``get_metaschema`` returns when it is set.
"""

from __future__ import annotations

import argparse
import copyreg
import logging
import os
import pickle
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

_logger = logging.getLogger("runner-cwl")
VERSIONS = ("v1.0", "v1.1", "v1.2")
METASCHEMA = "salad-metaschema"
_loaded_from_disk: set[str] = set()
_extensions: bool | None = None  # the schemas set up in this process


def _register_reducers() -> None:
    # schema-salad's NormDict keeps its normalising function in an attribute that
    # plain pickling restores only after the items; rebuild it from the function
    from schema_salad.ref_resolver import NormDict

    def reduce(d: Any) -> tuple[Any, ...]:
        return (NormDict, (d.normalize,), None, None, iter(dict.items(d)))

    copyreg.pickle(NormDict, reduce)


def cache_file(extensions: bool) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "runner-cwl"
    tag = f"cwltool-{version('cwltool')}-salad-{version('schema-salad')}-py{sys.version_info[0]}{sys.version_info[1]}"
    return base / f"schemas-{tag}{'-ext' if extensions else ''}.pickle"


def enabled() -> bool:
    return not os.environ.get("RUNNER_CWL_NO_SCHEMA_CACHE")


def setup(extensions: bool) -> None:
    """cwltool's schema set-up (standard or --enable-ext), then our cache on top.

    Passed to ``cwltool.main.main`` as its ``custom_schema_callback``: cwltool
    empties its schema cache while it sets the schemas up, so ours must come after.
    """
    from cwltool.main import setup_schema

    setup_schema(argparse.Namespace(enable_ext=extensions), None)
    load(extensions)


def load(extensions: bool = False) -> None:
    """Fill cwltool's schema cache from disk, if a good cache is there."""
    global _extensions
    _extensions = extensions
    if not enabled():
        return
    path = cache_file(extensions)
    try:
        with open(path, "rb") as handle:
            _register_reducers()
            schemas = pickle.load(handle)
    except FileNotFoundError:
        return
    except Exception as err:  # a stale or broken cache is only a slower start
        _logger.debug("ignoring the schema cache %s: %s", path, err)
        return
    from cwltool import process
    from schema_salad import schema

    metaschema = schemas.pop(METASCHEMA, None)
    if metaschema is not None and schema.cached_metaschema is None:
        schema.cached_metaschema = metaschema
        _loaded_from_disk.add(METASCHEMA)
    for key, value in schemas.items():
        if key not in process.SCHEMA_CACHE:
            process.SCHEMA_CACHE[key] = value
            _loaded_from_disk.add(key)


def save() -> None:
    """Write every CWL schema version to the cache (once per cwltool version)."""
    if not enabled() or _extensions is None or {*VERSIONS, METASCHEMA} <= _loaded_from_disk:
        return
    from cwltool import process
    from schema_salad import schema

    try:
        _register_reducers()
        schemas: dict[str, Any] = {v: process.get_schema(v) for v in VERSIONS}
        schemas[METASCHEMA] = schema.get_metaschema()
        path = cache_file(_extensions)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".schemas-")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(schemas, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except Exception as err:
        _logger.debug("could not write the schema cache: %s", err)

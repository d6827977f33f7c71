"""Content keys for jobs, and the records that let ``--restart`` skip finished ones.

A job's key hashes what decides its outputs: the tool document, the command line,
environment, redirections, container image and files it creates, and for each
input file its location, size and modification time. The job's own directories
(random names, different in every run) are replaced by placeholders first, so an
unchanged job has the same key in the next run. Upstream outputs are part of a
downstream job's inputs: when a step is edited and re-runs, its outputs are new
files, and so everything downstream gets new keys and re-runs too.

When a job succeeds, its key and output object are appended as one line to the
journal ``done/journal.jsonl`` in the job store (one ``write``: no file created,
renamed or deleted per job) before the workflow hears of it. A leader killed during
that write leaves at most a partial last line, which readers skip (that job was not
reported to the workflow, so it runs again). Stores that cannot append (S3) get one
``done/KEY.json`` per job instead. A restarted run reuses the records of earlier
attempts only; within one run, equal jobs still both run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from cwltool.job import JobBase
from cwltool.utils import visit_class
from schema_salad.ref_resolver import uri_file_path

from . import remote
from .errors import JobStoreError
from .jobstore.base import JobStore
from .pathmapper import link_or_copy_file

JOURNAL = "done/journal.jsonl"

_logger = logging.getLogger("runner-cwl")

_tool_hashes: dict[int, str] = {}


def _tool_hash(job: JobBase) -> str:
    """A hash of the tool document the job came from (computed once per tool)."""
    tool = getattr(job, "tool_object", None)  # a fast-path job (fastpath.py)
    if tool is None:
        func = getattr(job.collect_outputs, "func", None)
        tool = getattr(func, "__self__", None)
    document = getattr(tool, "tool", None)
    if document is None:
        return ""
    key = id(tool)
    if key not in _tool_hashes:
        text = json.dumps(document, sort_keys=True, default=str)
        _tool_hashes[key] = hashlib.sha256(text.encode()).hexdigest()
    return _tool_hashes[key]


def placeholders(names: dict[str, str]) -> Callable[[str], str]:
    """A function that replaces each path of ``names`` in a string by its name, in one
    pass from the left, the longest path first where several start at one place.

    It gives what ``re.sub`` with the alternation of the paths (longest first) gives,
    without compiling a pattern: every job's paths are new, so a compiled pattern is
    never reused, and compiling one took most of a job key's time (~1 ms per job).
    """
    paths = sorted(names, key=len, reverse=True)
    # what all the paths start with (a job's directories share the job store's): a
    # string without it holds none of them, found in one look instead of one per path
    common = common_prefix(paths) if len(paths) > 1 else ""

    def replace(value: str) -> str:
        if common and common not in value:
            return value
        found = [(start, -len(path), path) for path in paths if (start := value.find(path)) != -1]
        if not found:
            return value
        out: list[str] = []
        at = 0
        while found:
            start, _, path = min(found)
            out += [value[at:start], names[path]]
            at = start + len(path)
            found = [(next_, -len(p), p) for _, _, p in found if (next_ := value.find(p, at)) != -1]
        out.append(value[at:])
        return "".join(out)

    return replace


def common_prefix(texts: list[str]) -> str:
    """What all ``texts`` start with: ``os.path.commonprefix``'s answer, found by a binary
    search of C-level ``startswith`` calls instead of its loop over every character
    (which took half of a job key's time)."""
    low, high = min(texts), max(texts)  # the common prefix of these two is everyone's
    found, top = 0, min(len(low), len(high))
    while found < top:
        middle = (found + top + 1) // 2
        if high.startswith(low[:middle]):
            found = middle
        else:
            top = middle - 1
    return low[:found]


def job_key(job: JobBase, command: list[str], image: str | None) -> str:
    """The content key of ``job`` about to run ``command`` (before container options)."""
    places = [
        (job.outdir, "$OUTDIR"),
        (job.tmpdir, "$TMPDIR"),
        (job.stagedir or "", "$STAGEDIR"),
        (job.builder.outdir, "$OUTDIR"),
        (job.builder.tmpdir, "$TMPDIR"),
        (job.builder.stagedir or "", "$STAGEDIR"),
    ]
    # where cwltool staged each input (stg<random> folders) is named by the input instead
    for location, entry in job.pathmapper.items():
        if entry.target and not str(entry.type).startswith("Create"):
            places.append((entry.target, f"$INPUT<{location}>"))
    names = dict(sorted(((p, n) for p, n in places if p and len(p) > 1), key=lambda p: len(p[0])))
    replace = placeholders(names)

    def normal(value: Any) -> Any:
        if isinstance(value, str):
            return replace(value)
        if isinstance(value, dict):
            return {k: replace(v) if type(v) is str else normal(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [replace(v) if type(v) is str else normal(v) for v in value]
        return value

    files: list[list[Any]] = []
    for location, entry in job.pathmapper.items():
        if remote.is_remote(location):
            # s3:// and http(s):// inputs are known by their URL (a job store's files are
            # never rewritten; a local copy's mtime says when it was fetched, not made)
            files.append([location])
        elif entry.type == "File" and os.path.exists(entry.resolved):
            stat = os.stat(entry.resolved)
            files.append([location, stat.st_size, stat.st_mtime_ns])
        elif entry.type == "Directory" and os.path.exists(entry.resolved):
            files.append([location, os.stat(entry.resolved).st_mtime_ns])
        elif str(entry.type).startswith("Create"):
            files.append([normal(entry.target), entry.resolved])
    document = {
        "tool": _tool_hash(job),
        "name": job.name,
        "command": normal(command),
        "env": normal(dict(job.environment)),
        "streams": normal([job.stdin, job.stdout, job.stderr]),
        "image": image,
        "files": sorted(files, key=lambda f: str(f[0])),
        "generated": normal(job.generatefiles.get("listing")),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def done_key(key: str) -> str:
    return f"done/{key}.json"


def record_done(store: JobStore, key: str, outputs: Any) -> None:
    """Record that the job ``key`` succeeded with ``outputs`` (durable when this returns)."""
    record_many(store, [(key, json.dumps(outputs, separators=(",", ":")))])


def record_many(store: JobStore, done: list[tuple[str, str]]) -> None:
    """Record jobs that succeeded, as (key, outputs as JSON text): one append to the
    journal, or (a store that cannot append) one key per job."""
    if not getattr(store, "_no_append", False):
        try:
            store.append(JOURNAL, "".join(f'{{"key":"{k}","outputs":{t}}}\n' for k, t in done).encode())
            return
        except NotImplementedError:
            store._no_append = True  # type: ignore[attr-defined]
    for key, text in done:
        store.put(done_key(key), text.encode())


def load_done(store: JobStore) -> dict[str, str]:
    """Content key → recorded outputs (JSON text) of every job recorded as done."""
    done: dict[str, str] = {}
    for name in store.list("done/"):
        if name == JOURNAL or not name.endswith(".json"):
            continue
        try:
            done[name[len("done/") : -len(".json")]] = store.get(name).decode()
        except KeyError:
            continue
    try:
        journal = store.get(JOURNAL)
    except KeyError:
        return done
    for line in journal.splitlines():
        try:
            entry = json.loads(line)
            done[entry["key"]] = json.dumps(entry["outputs"])
        except (ValueError, KeyError, TypeError):
            continue  # a record cut short by a killed leader
    return done


class Reuse:
    """What a run may reuse and what it records: the outputs of jobs an earlier attempt
    finished (``--restart``) or any earlier run cached (``--cachedir``), and this run's
    finished jobs, written to the done journal in batches (:meth:`flush`)."""

    def __init__(
        self, store: JobStore | None = None, earlier: dict[str, str] | None = None, cache: Cache | None = None
    ) -> None:
        self.store = store
        self.earlier = earlier or {}
        self.cache = cache
        #: jobs reused instead of run
        self.reused = 0
        #: finished jobs not yet in the job store's journal
        self._pending: list[tuple[str, str]] = []

    def outputs(self, key: str) -> Any:
        """The recorded outputs of a job that finished in an earlier attempt (or, with
        --cachedir, in any earlier run), or None."""
        recorded = self.earlier.get(key)
        if recorded is None:
            cached = self.cache.lookup(key) if self.cache is not None else None
            if cached is not None:
                self.reused += 1
            return cached
        try:
            outputs = json.loads(recorded)
        except ValueError:
            return None
        missing: list[str] = []

        def check(obj: dict[str, Any]) -> None:
            location = obj.get("location", "")
            if isinstance(location, str) and location.startswith("file://"):
                if not os.path.exists(uri_file_path(location)):
                    missing.append(location)
            elif isinstance(location, str) and location.startswith("s3://") and obj.get("class") == "File":
                if remote.s3_head(location) is None:
                    missing.append(location)

        visit_class(outputs, ("File", "Directory"), check)
        if missing:  # outputs gone from the store: run the job again
            return None
        self.reused += 1
        return outputs

    def record(self, key: str, outputs: Any, outdir: str | None = None) -> Any:
        """Record a finished job (for --restart, and --cachedir); the outputs the
        workflow should see (with --cachedir: the cached copies)."""
        if self.cache is not None and outdir:
            try:
                outputs = self.cache.store(key, outputs, outdir) or outputs
            except OSError as err:
                _logger.warning("--cachedir %s: could not keep this job's outputs: %s", self.cache.root, err)
        self._pending.append((key, json.dumps(outputs, separators=(",", ":"))))
        if len(self._pending) >= 64:
            self.flush()
        return outputs

    def flush(self) -> None:
        """Write the jobs recorded as finished since the last flush, in one append: at
        the latest before the leader waits, and every 64 jobs (a leader killed in
        between loses at most those: a restart runs them again)."""
        if not self._pending or self.store is None:
            return
        done, self._pending = self._pending, []
        try:
            record_many(self.store, done)
        except JobStoreError as err:  # the jobs still succeeded; only a restart loses them
            _logger.warning("%s: a restart will run %d jobs again", err, len(done))


class Cache:
    """``--cachedir DIR``: finished jobs' outputs kept across runs, by content key.

    cwltool's meaning (a job whose tool, inputs and command are unchanged is not run
    again, in any later run that names the same cache) with our content keys and
    none of cwltool's per-job lock, which blocks a single leader thread. Layout:
    ``DIR/files/KEY/`` holds the job's output directory (hard links to the job's
    files where the filesystem allows, else copies), ``DIR/done/KEY.json`` its output
    object pointing there, written last (write-then-rename): an entry is whole or
    absent. Outputs in S3 are not cached (they live and die with their job store).
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(os.path.join(self.root, "done"), exist_ok=True)
        os.makedirs(os.path.join(self.root, "files"), exist_ok=True)

    def lookup(self, key: str) -> Any:
        """The cached outputs of ``key`` whose files are all still there, or None."""
        try:
            with open(os.path.join(self.root, "done", f"{key}.json")) as handle:
                outputs = json.load(handle)
        except (OSError, ValueError):
            return None
        from cwltool.utils import visit_class
        from schema_salad.ref_resolver import uri_file_path

        missing: list[str] = []

        def check(obj: dict[str, Any]) -> None:
            location = str(obj.get("location", ""))
            if location.startswith("file://") and not os.path.exists(uri_file_path(location)):
                missing.append(location)

        visit_class(outputs, ("File", "Directory"), check)
        return None if missing else outputs

    def store(self, key: str, outputs: Any, outdir: str) -> Any:
        """Keep ``outputs`` (a job's, made in ``outdir``) under ``key``; return them
        pointing at the cached files (what the workflow should see, so that downstream
        jobs get the same keys in this run and the next), or None when not kept."""
        import shutil
        import tempfile

        from cwltool.utils import visit_class
        from schema_salad.ref_resolver import file_uri

        locations: list[str] = []
        visit_class(outputs, ("File", "Directory"), lambda o: locations.append(str(o.get("location", ""))))
        if any(remote.is_remote(loc) for loc in locations):
            return None
        if os.path.exists(os.path.join(self.root, "done", f"{key}.json")):
            return self.lookup(key)  # an equal job of this run got there first
        target = os.path.join(self.root, "files", key)
        if not os.path.isdir(target):
            tmp = tempfile.mkdtemp(dir=os.path.join(self.root, "files"), prefix=".tmp-")
            kept = os.path.join(tmp, "out")
            shutil.copytree(outdir, kept, symlinks=False, copy_function=link_or_copy_file)
            try:
                os.rename(kept, target)
            except OSError:  # an equal job got there first
                pass
            shutil.rmtree(tmp, ignore_errors=True)
        prefixes = [file_uri(outdir.rstrip(os.sep)) + "/", file_uri(os.path.realpath(outdir)) + "/"]
        base = file_uri(target) + "/"
        text = json.dumps(outputs)
        for prefix in prefixes:
            text = text.replace(json.dumps(prefix)[1:-1], json.dumps(base)[1:-1])
        done = os.path.join(self.root, "done", f"{key}.json")
        fd, tmp_file = tempfile.mkstemp(dir=os.path.dirname(done), prefix=".tmp-")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp_file, done)
        return json.loads(text)

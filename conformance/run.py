#!/usr/bin/env python3
"""Run the official CWL conformance suites against runner-cwl (and cwltool).

    python conformance/run.py                       # all three suites, runner-cwl
    python conformance/run.py --suite v1.2 --tags required
    python conformance/run.py --compare-cwltool --write-docs
    python conformance/run.py --check-baseline      # what CI runs: fail if a count drops

Suites come from ``$CWL_CONFORMANCE_DIR`` or ``../shared/cwl-conformance`` beside
the repository when present, else they are downloaded once from their GitHub
repositories at the pinned commits below (cached in ~/.cache/runner-cwl).
Each run works on a fresh copy, since tests write into their folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
BASELINE = HERE / "baseline.json"
DOC = ROOT / "docs" / "conformance.md"

# suite -> (GitHub repository, pinned commit, folder inside it, entry file)
SUITES = {
    "v1.0": ("common-workflow-language/common-workflow-language", "06c0cba1a178", "v1.0", "conformance_test_v1.0.yaml"),
    "v1.1": ("common-workflow-language/cwl-v1.1", "b1d4a69df863", "", "conformance_tests.yaml"),
    "v1.2": ("common-workflow-language/cwl-v1.2", "551d58d409ef", "", "conformance_tests.yaml"),
}
ENGINES = ("runner-cwl", "cwltool")


def suite_dir(suite: str) -> Path:
    """Where the suite's entry file lives: a local copy, or a pinned download."""
    repo, commit, folder, entry = SUITES[suite]
    candidates = []
    if os.environ.get("CWL_CONFORMANCE_DIR"):
        candidates.append(Path(os.environ["CWL_CONFORMANCE_DIR"]) / suite)
    candidates.append(ROOT.parent / "shared" / "cwl-conformance" / suite)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "runner-cwl" / "conformance"
    candidates.append(cache / f"{suite}-{commit}")
    for candidate in candidates:
        if (candidate / entry).is_file():
            return candidate
    return download(suite, cache / f"{suite}-{commit}")


def download(suite: str, target: Path) -> Path:
    import requests

    repo, commit, folder, entry = SUITES[suite]
    url = f"https://github.com/{repo}/archive/{commit}.tar.gz"
    print(f"[conformance] downloading {suite} from {url}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "suite.tar.gz"
        try:
            with requests.get(url, stream=True, timeout=60) as response:
                response.raise_for_status()
                with open(archive, "wb") as handle:
                    for chunk in response.iter_content(1 << 20):
                        handle.write(chunk)
        except requests.RequestException as err:
            raise SystemExit(
                f"conformance: cannot download the {suite} suite from {url} ({type(err).__name__}); "
                "set CWL_CONFORMANCE_DIR to a folder holding v1.0/, v1.1/ and v1.2/ copies"
            ) from None
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        top = next(p for p in Path(tmp).iterdir() if p.is_dir())
        source = top / folder if folder else top
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target)
    if not (target / entry).is_file():
        raise SystemExit(f"conformance: {url} has no {folder}/{entry}")
    return target


def engine_command(engine: str) -> str:
    bindir = Path(sys.executable).parent
    for candidate in (bindir / engine, shutil.which(engine)):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise SystemExit(f"conformance: {engine} is not installed (pip install {engine})")


def run_suite(suite: str, engine: str, args: argparse.Namespace) -> dict:
    entry = SUITES[suite][3]
    source = suite_dir(suite)
    RESULTS.mkdir(exist_ok=True)
    name = f"{suite}-{engine}" + (f"-{args.label}" if args.label else "")
    junit = RESULTS / f"{name}.xml"
    with tempfile.TemporaryDirectory(prefix=f"conformance-{suite}-") as tmp:
        work = Path(tmp) / suite
        shutil.copytree(source, work)
        cmd = [
            sys.executable,
            "-m",
            "cwltest",
            "--test",
            entry,
            "--tool",
            engine_command(engine),
            "-j",
            str(args.j),
            "--timeout",
            str(args.timeout),
            "--junit-xml",
            str(junit),
        ]
        if args.tags:
            cmd += ["--tags", args.tags]
        extra = list(args.runner_arg) if engine == "runner-cwl" else list(args.cwltool_arg)
        if extra:
            cmd += ["--", *extra]
        print(f"[conformance] {suite} with {engine}: {' '.join(cmd)}", file=sys.stderr, flush=True)
        started = time.monotonic()
        log = RESULTS / f"{name}.log"
        # the engines' temporary files (a failed run keeps its job store, and a suite has
        # dozens of tests that must fail) go with the suite's copy, not into /tmp
        scratch = Path(tmp) / "tmp"
        scratch.mkdir()
        with open(log, "w") as handle:
            subprocess.run(
                cmd,
                cwd=work,
                stdout=handle,
                stderr=subprocess.STDOUT,
                check=False,
                env={**os.environ, "TMPDIR": str(scratch)},
            )
        wall = time.monotonic() - started
    result = parse_junit(junit)
    result.update(suite=suite, engine=engine, selection=args.tags or "all", label=args.label or "", wall=round(wall, 1))
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"[conformance] {suite} {engine}: {result['passed']} passed, {result['failed']} failed, "
        f"{result['unsupported']} unsupported of {result['total']} in {wall:.0f} s (log: {log})",
        file=sys.stderr,
        flush=True,
    )
    return result


def parse_junit(path: Path) -> dict:
    counts = {"passed": 0, "failed": 0, "unsupported": 0}
    tags: dict[str, dict[str, int]] = defaultdict(lambda: {"passed": 0, "failed": 0, "unsupported": 0})
    failures = []
    if path.exists():
        for case in ET.parse(path).iter("testcase"):
            kinds = {child.tag for child in case}
            status = "failed" if kinds & {"failure", "error"} else "unsupported" if "skipped" in kinds else "passed"
            counts[status] += 1
            for tag in (t.strip() for t in (case.get("class") or "").split(",")):
                if tag:
                    tags[tag][status] += 1
            if status == "failed":
                failures.append(case.get("file") or case.get("name"))
    return {**counts, "total": sum(counts.values()), "tags": dict(sorted(tags.items())), "failures": failures}


def baseline_key(result: dict) -> str:
    """v1.2, v1.2:required, v1.2:required@slurm ..."""
    key = result["suite"]
    if result.get("selection", "all") != "all":
        key += f":{result['selection']}"
    if result.get("label"):
        key += f"@{result['label']}"
    return key


def check_baseline(results: list[dict]) -> int:
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    worse = []
    for result in results:
        if result["engine"] != "runner-cwl":
            continue
        key = baseline_key(result)
        want = baseline.get(key)
        if want is None:
            print(f"[conformance] no baseline for {key}", file=sys.stderr)
            continue
        status = "ok" if result["passed"] >= want else "BELOW BASELINE"
        print(f"[conformance] {key}: {result['passed']} passed (baseline {want}) {status}", file=sys.stderr)
        if result["passed"] < want:
            worse.append(f"{key}: {result['passed']} < {want} (failed: {', '.join(result['failures'])})")
    if worse:
        print(
            "conformance: pass counts dropped below conformance/baseline.json:\n  " + "\n  ".join(worse),
            file=sys.stderr,
        )
        return 1
    return 0


def update_baseline(results: list[dict]) -> None:
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    for result in results:
        if result["engine"] == "runner-cwl":
            key = baseline_key(result)
            baseline[key] = max(baseline.get(key, 0), result["passed"])  # a ratchet: never down
    BASELINE.write_text(json.dumps(dict(sorted(baseline.items())), indent=2) + "\n")


def write_docs() -> None:
    """Rewrite the results table in docs/conformance.md from conformance/results/*.json."""
    rows = []
    by_suite: dict[str, dict[str, dict]] = defaultdict(dict)
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        column = result["engine"] + (f" ({result['label']})" if result.get("label") else "")
        by_suite[result["suite"]][column] = result
    rows.append("| suite | engine | passed | failed | unsupported | total | wall (s) | failing tests |")
    rows.append("|---|---|---|---|---|---|---|---|")
    for suite in sorted(by_suite):
        for engine in sorted(by_suite[suite], key=lambda e: (e.split()[0] != "runner-cwl", e)):
            r = by_suite[suite].get(engine)
            if r:
                fails = ", ".join(f"`{f}`" for f in r["failures"]) or "–"
                rows.append(
                    f"| {suite} ({r['selection']}) | {engine} | {r['passed']} | {r['failed']} | {r['unsupported']} | "
                    f"{r['total']} | {r['wall']} | {fails} |"
                )
    tag_rows = ["| suite | tag | runner-cwl passed/total | cwltool passed/total |", "|---|---|---|---|"]
    for suite in sorted(by_suite):
        ours = by_suite[suite].get("runner-cwl", {}).get("tags", {})
        theirs = by_suite[suite].get("cwltool", {}).get("tags", {})
        for tag in sorted(set(ours) | set(theirs)):

            def cell(t: dict) -> str:
                return f"{t['passed']}/{sum(t.values())}" if t else "–"

            tag_rows.append(f"| {suite} | {tag} | {cell(ours.get(tag, {}))} | {cell(theirs.get(tag, {}))} |")
    table = "\n".join(rows) + "\n\n### By tag\n\n" + "\n".join(tag_rows) + "\n"
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    text = DOC.read_text() if DOC.exists() else f"# Conformance\n\n{start}\n{end}\n"
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    DOC.write_text(f"{before}{start}\n{table}{end}{after}")


def with_s3_server(args: argparse.Namespace) -> int:
    """Start a local S3 server; every test's job store is a fresh prefix in its bucket."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    from s3server import S3Server

    RESULTS.mkdir(exist_ok=True)
    server = S3Server(log=str(RESULTS / "s3server.log"))
    try:
        server.make_bucket("conformance")
        os.environ.update(server.env)
        os.environ["RUNNER_CWL_JOBSTORE_BASE"] = "s3://conformance/jobstores"
        args.label = args.label or "s3"
        return run_all(args)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", action="append", choices=sorted(SUITES), help="suite(s) to run (default: all)")
    parser.add_argument("--tags", help="only tests with these tags, e.g. required")
    parser.add_argument("-j", type=int, default=2, help="tests at once (default 2)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per test (default 300)")
    parser.add_argument("--compare-cwltool", action="store_true", help="also run cwltool on the same suites")
    parser.add_argument("--runner-arg", action="append", default=[], help="extra argument for runner-cwl")
    parser.add_argument("--cwltool-arg", action="append", default=[], help="extra argument for cwltool")
    parser.add_argument("--check-baseline", action="store_true", help="exit 1 if a pass count is below the baseline")
    parser.add_argument("--update-baseline", action="store_true", help="raise the baseline to these counts")
    parser.add_argument("--label", help="a name for this mode (e.g. slurm) in result files and baseline keys")
    parser.add_argument("--write-docs", action="store_true", help="rewrite the table in docs/conformance.md")
    parser.add_argument(
        "--s3",
        action="store_true",
        help="run runner-cwl with S3 job stores on a local S3 server (moto) started for the run (label: s3)",
    )
    args = parser.parse_args()
    if args.s3:
        return with_s3_server(args)
    return run_all(args)


def run_all(args: argparse.Namespace) -> int:
    engines = ["runner-cwl", "cwltool"] if args.compare_cwltool else ["runner-cwl"]
    results = [run_suite(suite, engine, args) for suite in (args.suite or sorted(SUITES)) for engine in engines]
    if args.update_baseline:
        update_baseline(results)
    if args.write_docs:
        write_docs()
    for result in results:
        if result["total"] == 0:
            print(f"conformance: {result['suite']} with {result['engine']} ran no test", file=sys.stderr)
            return 1
    return check_baseline(results) if args.check_baseline else 0


if __name__ == "__main__":
    sys.exit(main())

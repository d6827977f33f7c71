"""``runner-cwl``: cwltool's command line, with our executor behind it.

The options users know from cwltool keep their names and meanings (they are
cwltool's own parser); ours are added in one group. Loading, validation and
error reporting for documents and inputs are cwltool's.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
from collections.abc import Sequence
from typing import IO

from . import __version__
from .backends.noop import enabled as noop_enabled
from .errors import RunnerError

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


def parse_memory(text: str) -> int:
    """'4G', '512M', '1.5GiB' or a plain number of MiB -> MiB."""
    match = _MEMORY.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a memory size: {text!r} (use e.g. 4G or 512M)")
    value = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if value < 1:
        raise argparse.ArgumentTypeError(f"memory size too small: {text!r}")
    return int(value)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"give a fraction of jobs, 0 <= RATE < 1: {text!r}")
    return value


SUBCOMMANDS = ("status", "clean", "kill", "report")


def version_string() -> str:
    import cwltool

    cwltool_version = getattr(cwltool, "__version__", None)
    if cwltool_version is None:
        from importlib.metadata import version

        cwltool_version = version("cwltool")
    return f"runner-cwl {__version__} (cwltool {cwltool_version})"


def build_parser() -> argparse.ArgumentParser:
    from cwltool.argparser import arg_parser

    parser = arg_parser()
    parser.prog = "runner-cwl"
    parser.description = "Run CWL v1.0-v1.2 workflows concurrently, locally or on a cluster."
    parser.set_defaults(on_error="continue", enable_color=sys.stderr.isatty())
    group = parser.add_argument_group("runner-cwl")
    group.add_argument(
        "--jobstore",
        metavar="PATH|s3://BUCKET/PREFIX",
        help="where the run's files and state live: a directory, or an S3 bucket and prefix "
        "(default: a fresh temporary directory, removed after a successful run)",
    )
    group.add_argument(
        "--s3-endpoint",
        metavar="URL",
        help="the S3 service to use (MinIO, Ceph, ...), e.g. http://127.0.0.1:9000 "
        "(default: boto3's settings: $AWS_ENDPOINT_URL, the profile, AWS)",
    )
    group.add_argument(
        "--keep-jobstore",
        action="store_true",
        help="keep the job store after a successful run (same as --clean never)",
    )
    group.add_argument(
        "--restart",
        action="store_true",
        help="finish the unfinished run in --jobstore (after a crash, a kill or an edit of the "
        "workflow): jobs that finished before, unchanged, are not run again",
    )
    group.add_argument(
        "--clean",
        choices=["on-success", "always", "on-error", "never"],
        default=None,
        help="when to delete the job store at the end (default: on-success; never with --detach)",
    )
    group.add_argument(
        "--max-cores", type=positive_float, metavar="N", help="cores jobs may use at once (default: this machine's)"
    )
    group.add_argument(
        "--max-memory",
        type=parse_memory,
        metavar="SIZE",
        help="RAM jobs may use at once, e.g. 16G (default: this machine's)",
    )
    group.add_argument(
        "--max-gpus", type=int, metavar="N", help="CUDA GPUs jobs may use at once (default: those nvidia-smi lists)"
    )
    group.add_argument(
        "--batch-system",
        default="local",
        # noop: jobs end at once, nothing runs (benchmarks/noop.py; needs RUNNER_CWL_BENCHMARK=1)
        choices=["local", "slurm"] + (["noop"] if noop_enabled() else []),
        help="where jobs run: this machine (local, the default) or a Slurm cluster (slurm)",
    )
    group.add_argument(
        "--slurm-args",
        metavar="ARGS",
        help="extra sbatch options for every job, e.g. '--partition=long --account=lab' "
        "(also read from $RUNNER_CWL_SLURM_ARGS)",
    )
    group.add_argument(
        "--slurm-batch-size",
        type=int,
        default=1,
        metavar="N",
        help="run N jobs of a job array one after the other in each array task (for many short jobs)",
    )
    group.add_argument(
        "--no-slurm-arrays",
        dest="slurm_arrays",
        action="store_false",
        help="one sbatch per job instead of job arrays for jobs that share their resources",
    )
    group.add_argument(
        "--worker-process",
        action="store_true",
        help="run each local job through the worker entry point (as a cluster node would)",
    )
    group.add_argument(
        "--report",
        metavar="FILE",
        help="write the run report (one self-contained HTML file: summary, timeline, per-step "
        "times and memory, failures) to FILE at the end of the run, also when it fails",
    )
    group.add_argument(
        "--stats", action="store_true", help="print the per-step table (jobs, wall, CPU, peak memory) at the end"
    )
    group.add_argument(
        "--progress",
        choices=["auto", "live", "plain", "none"],
        default="auto",
        help="what the run shows while it runs: a live display (on a terminal), periodic progress "
        "log lines, or nothing (default auto: live on a terminal, plain otherwise; --quiet: none)",
    )
    group.add_argument(
        "--retry-count",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="run a job whose command fails (or times out) up to N more times (default 0; "
        "temporaryFailCodes are retried at least once, permanentFailCodes never)",
    )
    group.add_argument(
        "--max-system-retries",
        type=non_negative_int,
        default=2,
        metavar="N",
        help="run a job again up to N times, with backoff, when it fails through no fault of its own: "
        "worker lost, killed by a signal, node failure (default 2)",
    )
    group.add_argument(
        "--enforce-memory",
        action="store_true",
        help="run each local non-container job in a memory cgroup limited to its ramMin; one that "
        "exceeds it is retried once with twice the memory",
    )
    group.add_argument(
        "--inject-faults",
        type=fraction,
        default=0.0,
        metavar="RATE",
        help="SIGKILL this fraction of jobs at a random moment of their run (they are retried as "
        "system failures): check that a run survives lost jobs",
    )
    group.add_argument(
        "--inject-faults-seed", type=int, metavar="N", help="seed for --inject-faults (same seed, same jobs)"
    )
    group.add_argument(
        "--detach",
        action="store_true",
        help="run the leader in the background and return at once; prints the job store to use with "
        "'runner-cwl status' and 'runner-cwl kill' (the job store is kept unless --clean says otherwise)",
    )
    log_dir = parser._option_string_actions.get("--log-dir")
    if log_dir is not None:  # cwltool's option: we add each job's own log to it
        log_dir.help = (
            "each job's log (its command line, its stdout/stderr when the tool does not capture them, and "
            "how it ended) goes to DIR/STEP[.SCATTER_INDEX].JOB_ID.log (default: the job store's work/logs); "
            "as in cwltool, the stdout/stderr a tool captures are also written under DIR"
        )
        log_dir.metavar = "DIR"
    return parser


def check_jobstore(locator: str | None, restart: bool) -> None:
    """Refuse at once (before loading anything) a job store the executor would refuse."""
    from .errors import ConfigurationError
    from .jobstore import open_jobstore
    from .runstate import ensure_restartable, ensure_unused

    if restart:
        if not locator:
            raise ConfigurationError("--restart needs the --jobstore of the run to finish")
        ensure_restartable(open_jobstore(locator, create=False))
    elif locator and locator.startswith("s3://"):
        ensure_unused(open_jobstore(locator))
    elif locator and os.path.exists(locator.removeprefix("file://")):
        ensure_unused(open_jobstore(locator, create=False))


def make_executor(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .executor import Executor

    return Executor(
        jobstore=args.jobstore,
        keep_jobstore=args.keep_jobstore,
        max_cores=args.max_cores,
        max_memory=args.max_memory,
        max_gpus=args.max_gpus,
        batch_system=args.batch_system,
        use_worker_process=args.worker_process,
        slurm_args=args.slurm_args,
        slurm_arrays=args.slurm_arrays,
        slurm_batch_size=args.slurm_batch_size,
        clean=args.clean or ("never" if args.detach else "on-success"),
        restart=args.restart,
        report=args.report,
        stats=args.stats,
        log_dir=args.log_dir or None,
        progress="none" if args.quiet or getattr(args, "no_warnings", False) else args.progress,
        retry_count=args.retry_count,
        max_system_retries=args.max_system_retries,
        inject_faults=args.inject_faults,
        inject_faults_seed=args.inject_faults_seed,
        enforce_memory=args.enforce_memory,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``runner-cwl``; return the exit code (cwltool's convention)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        from .commands import run_command

        return run_command(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(version_string())
        return 0

    workflow = getattr(args, "workflow", None)
    if workflow and "://" not in workflow and not os.path.exists(workflow.split("#", 1)[0]):
        print(f"runner-cwl: no such CWL document: {workflow}", file=sys.stderr)
        return 1

    if args.s3_endpoint:  # for boto3 here and in every worker we start
        os.environ["AWS_ENDPOINT_URL_S3"] = args.s3_endpoint
    job_file = next(iter(getattr(args, "job_order", None) or []), None)
    if workflow and job_file and not job_file.startswith("-") and os.path.isfile(job_file):
        from schema_salad.exceptions import ValidationException

        from .preflight import check_job_file

        try:
            check_job_file(job_file)
        except ValidationException as err:
            print(f"runner-cwl: {job_file}: input object failed validation: {err}", file=sys.stderr)
            return 1

    if args.jobstore or args.restart:
        try:
            check_jobstore(args.jobstore, args.restart)
        except RunnerError as err:
            print(f"runner-cwl: {err}", file=sys.stderr)
            return err.exit_code

    if args.detach and not workflow:
        print("runner-cwl: --detach needs a workflow to run", file=sys.stderr)
        return 2
    if args.detach:
        from .detach import detach, is_detached_leader

        if not is_detached_leader():
            return detach(argv, args.jobstore)

    import cwltool.main
    from cwltool.context import LoadingContext, RuntimeContext

    from . import schemacache
    from .factory import make_tool
    from .logs import make_handler, quiet_libraries
    from .preflight import CheckedFsAccess

    quiet_libraries(args.debug)

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    # as cwltool builds it from the arguments when it is given none (--enable-ext,
    # --relax-path-checks, --strict, ... are loading options)
    loading_context = LoadingContext(vars(args))
    loading_context.singularity = args.singularity
    loading_context.podman = args.podman
    loading_context.construct_tool_object = make_tool
    runtime_context = RuntimeContext(vars(args))
    runtime_context.make_fs_access = CheckedFsAccess  # reading the input object
    stdout = buffered_stdout()
    try:
        executor = make_executor(args)
        return cwltool.main.main(
            args=args,
            executor=executor,
            loadingContext=loading_context,
            runtimeContext=runtime_context,
            versionfunc=version_string,
            logger_handler=make_handler(args.debug),
            custom_schema_callback=lambda: schemacache.setup(args.enable_ext),
            stdout=stdout,
        )
    except RunnerError as err:
        logging.getLogger("cwltool").error("%s", err)
        return err.exit_code
    except KeyboardInterrupt:
        print("runner-cwl: interrupted; running jobs were stopped", file=sys.stderr)
        return 130
    finally:
        if stdout is not None:
            try:
                stdout.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be said there
                pass
        schemacache.save()


def buffered_stdout() -> IO[str] | None:
    """Our stdout in large blocks, for cwltool's output object (None: cwltool's own).

    cwltool writes the object with ``json.dump``, token by token: with
    PYTHONUNBUFFERED set (usual in containers and CI) that is a write to the
    terminal or pipe per token, some 28 per output file (280,000 for a
    10,000-way scatter). cwltool flushes it when the object is written.
    """
    import io

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # captured, or embedded: leave it be
        return None
    if not getattr(sys.stdout, "write_through", False) and not getattr(sys.stdout, "line_buffering", False):
        return None  # already buffered
    sys.stdout.flush()
    return io.TextIOWrapper(io.BufferedWriter(io.FileIO(fd, "w", closefd=False), 1 << 16), encoding="utf-8")


#: the cyclic garbage collector's thresholds for the runner-cwl command: a run allocates
#: a few objects per job and keeps most of them, so the default (a collection every 700
#: allocations, a full one every 70,000) spent 4 % of a 2,000-job scatter collecting;
#: a 2,000-way scatter then does 12 collections, not 370 (0.05 s, not 0.1 s)
GC_THRESHOLDS = (20_000, 20, 20)


def run() -> None:
    """Console-script entry point (an embedding calls main(), and keeps its own settings)."""
    import gc

    gc.set_threshold(*GC_THRESHOLDS)
    exit_now(main())


def exit_now(code: int) -> None:
    """Exit with ``code`` without the interpreter's teardown.

    Tearing down frees every object of the loaded schemas and modules one at a time:
    0.1-0.15 s here, a fifth of a one-tool run. Exit handlers (logging's, coverage's)
    still run and the streams are flushed first. With a non-daemon thread still
    alive (an embedding's), or RUNNER_CWL_CLEAN_EXIT=1, the usual exit.
    """
    import atexit
    import threading

    main_thread = threading.main_thread()
    waiting = [t for t in threading.enumerate() if t is not main_thread and not t.daemon and t.is_alive()]
    if waiting or os.environ.get("RUNNER_CWL_CLEAN_EXIT") == "1":
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said there
            pass
    os._exit(code)


if __name__ == "__main__":
    run()

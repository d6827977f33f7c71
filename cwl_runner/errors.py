"""Errors a user can see: each knows its exit code and its one-line message.

Exit codes follow cwltool's convention: 1 for a failure, 33 for an unsupported
requirement, 2 for a usage error.
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_UNSUPPORTED = 33


class RunnerError(Exception):
    """Base class: a problem to report in one line, without a traceback."""

    exit_code = EXIT_FAILURE


class ConfigurationError(RunnerError):
    """Bad options or an unusable job store."""

    exit_code = EXIT_USAGE


class PreflightError(RunnerError):
    """Something the run needs (container engine, image) is not there."""


class ResourceError(RunnerError):
    """A job asks for more than the run may ever give it."""


class JobStoreError(RunnerError):
    """The job store cannot be read or written."""

"""How Slurm's verdicts become results (no cluster needed)."""

from __future__ import annotations

import pytest

from cwl_runner.backends.slurm import RETRY, TERMINAL, SlurmBackend, _stem, _Submitted
from cwl_runner.job import JobRecord


@pytest.mark.parametrize("name,stem", [("echo", "echo"), ("echo_2", "echo"), ("echo_1000", "echo"), ("a_b", "a_b")])
def test_scatter_jobs_share_a_stem(name, stem):
    assert _stem(name) == stem


@pytest.mark.parametrize(
    "state,reason,text,timed_out",
    [
        ("TIMEOUT", "TimeLimit", "exceeded its Slurm time limit (TimeLimit)", True),
        ("OUT_OF_MEMORY", "None", "exceeded its memory (Slurm OUT_OF_MEMORY)", False),
        ("CANCELLED", "None", "was cancelled", False),
        ("FAILED", "NonZeroExitCode", "ended FAILED (NonZeroExitCode)", False),
    ],
)
def test_slurm_failures_say_what_happened(state, reason, text, timed_out):
    record = JobRecord(id="000001", name="step", argv=["true"], env={}, cwd="/")
    result = SlurmBackend._slurm_failure(None, _Submitted(record, "42_3", 0.0), state, reason)  # type: ignore[arg-type]
    assert result.error == f"Slurm job 42_3 {text}"
    assert result.exit_code == 1 and result.timed_out is timed_out


def test_retried_states_are_terminal_ones():
    assert RETRY <= TERMINAL
    assert "COMPLETED" not in RETRY and "OUT_OF_MEMORY" not in RETRY

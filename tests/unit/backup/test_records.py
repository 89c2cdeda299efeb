"""Run records as the runner prints them, and the state a user sees for each (pure)."""

from __future__ import annotations

from ctrlops.alerts.policy import BAD
from ctrlops.backup import records
from ctrlops.backup.records import RunRecord
from ctrlops.diagnose.report import Diagnosis

BOOT = "d0421583-6c6a-4f75-9d8e-85640a8d82ab"


def status_text(*chunks: str) -> str:
    return "".join(chunk.strip("\n") + "\n\n" for chunk in chunks)


def test_it_reads_alive_and_keeps_the_boot_id_among_the_extra_fields() -> None:
    text = status_text(
        f"run=20261126T100000Z-41\nstate=running\npid=41\nboot_id={BOOT}\nalive=0",
        "run=20261126T100100Z-42\nstate=running\npid=42\nalive=1",
        "run=20261126T100200Z-43\nstate=interrupted\npid=43\nfinished=2026-11-26T10:05:00Z\n"
        "reason=interrupted",
    )
    dead, live, rewritten = records.parse_status(text)
    assert (dead.state, dead.alive, dead.extra["boot_id"]) == ("running", False, BOOT)
    assert (live.state, live.alive) == ("running", True)
    assert (rewritten.state, rewritten.alive, rewritten.reason) == (
        "interrupted",
        None,
        "interrupted",
    )
    assert rewritten.finished is not None


def test_a_running_record_whose_process_is_gone_is_interrupted_not_failed() -> None:
    state, diagnosis = records.user_state(RunRecord("r1", "running", pid=41, alive=False), None)
    assert state == records.INTERRUPTED == "interrupted"
    assert diagnosis["category"] == "killed"
    assert "rebooted" in diagnosis["cause"] and "killed" in diagnosis["cause"]
    assert "Run Now" in diagnosis["fix"]


def test_a_record_the_runner_rewrote_as_interrupted_reads_the_same() -> None:
    rewritten = RunRecord("r1", "interrupted", pid=41, reason="interrupted")
    dead = RunRecord("r1", "running", pid=41, alive=False)
    assert records.user_state(rewritten, None) == records.user_state(dead, None)


def test_interrupted_wins_over_what_the_cut_off_log_says() -> None:
    # The log of a run cut short ends mid-transfer; it must not read as stalled or fine.
    stalled = Diagnosis("stalled", "no progress", "kill it")
    for record in (
        RunRecord("r1", "running", alive=False),
        RunRecord("r1", "interrupted"),
    ):
        assert records.user_state(record, stalled)[0] == "interrupted"


def test_a_live_or_unknown_running_record_is_still_running() -> None:
    for alive in (True, None):
        assert records.user_state(RunRecord("r1", "running", alive=alive), None) == (
            "running",
            {},
        )


def test_a_killed_run_stays_killed() -> None:
    state, diagnosis = records.user_state(RunRecord("r1", "killed", exit_code=143), None)
    assert state == "killed"
    assert diagnosis["category"] == "killed"


def test_interrupted_is_a_state_that_alerts() -> None:
    assert records.INTERRUPTED in BAD

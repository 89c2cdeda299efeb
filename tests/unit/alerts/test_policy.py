from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ctrlops.alerts.policy import Seen, decide, effective_state

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_it_alerts_once_when_a_job_turns_bad_then_stays_quiet() -> None:
    assert decide(None, "failed", NOW).kind == "bad"  # type: ignore[union-attr]
    assert decide(Seen("success", NOW), "failed", NOW).kind == "bad"  # type: ignore[union-attr]
    assert decide(Seen("failed", NOW), "failed", NOW + HOUR) is None


def test_it_reminds_at_the_interval_while_a_job_stays_bad() -> None:
    event = decide(Seen("failed", NOW), "failed", NOW + 25 * HOUR)
    assert event is not None and event.kind == "reminder"


def test_it_alerts_when_a_bad_job_turns_bad_in_another_way() -> None:
    event = decide(Seen("failed", NOW), "missed", NOW + HOUR)
    assert event is not None and (event.kind, event.previous) == ("changed", "failed")


def test_it_announces_recovery_once() -> None:
    event = decide(Seen("success, nothing copied", NOW), "success", NOW)
    assert event is not None and event.kind == "recovered"
    assert decide(Seen("success", NOW), "success", NOW) is None


def test_running_and_skipped_runs_say_nothing_new() -> None:
    assert decide(Seen("failed", NOW), "running", NOW + 30 * HOUR) is None
    assert decide(None, "skipped", NOW) is None


def test_a_missed_schedule_after_the_last_run_is_the_state() -> None:
    status = {
        "last_run": {"state": "success", "started": "2026-11-26T01:00:00+00:00"},
        "missed": ["2026-11-26T02:00:00+00:00"],
    }
    assert effective_state(status) == "missed"
    status["last_run"]["started"] = "2026-11-26T03:00:00+00:00"  # type: ignore[index]
    assert effective_state(status) == "success"
    assert effective_state({"last_run": None, "missed": []}) == "none"

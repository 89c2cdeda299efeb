"""The alerting state of a job read from the synced store: unreachable, missed, failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ctrlops.services.alerts import _assessed
from ctrlops.services.overview import Health, JobRow, RunView

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CLEAR: dict[str, Any] = {"ok": True, "banners": [], "facts": {}, "checked_at": NOW}


def row(last: RunView | None = None, missed: datetime | None = None) -> JobRow:
    h = Health("red", "", False)
    return JobRow("site", "web1", "d", "0 * * * *", "", "UTC", h, last, None, None, NOW, missed)


def ran(state: str, started: datetime, **diagnosis: str) -> RunView:
    return RunView("r1", state, "cron", started, started, 1, 0, 0, 0, 0, dict(diagnosis))


def test_an_unreachable_server_is_a_failure_with_the_checks_cause() -> None:
    down = {"ok": False, "category": "auth", "cause": "the key was refused", "fix": "add it"}
    state, status = _assessed(row(), down, None)
    assert state == "failed"
    assert status["last_run"]["diagnosis"]["cause"] == "the key was refused"
    state, status = _assessed(row(), CLEAR, {"category": "network", "cause": "timed out"})
    assert (state, status["last_run"]["diagnosis"]["cause"]) == ("failed", "timed out")


def test_a_due_run_that_never_started_is_missed_with_the_banners_as_reasons() -> None:
    check = {**CLEAR, "banners": [{"id": "cron_stopped", "text": "Cron is stopped",
                                   "evidence": "no cron process runs"}]}  # fmt: skip
    state, status = _assessed(
        row(ran("success", NOW - timedelta(hours=2)), NOW - timedelta(hours=1)), check, None
    )
    assert state == "missed"
    assert status["missed_reasons"] == ["Cron is stopped (no cron process runs)"]


def test_a_reboot_after_the_missed_time_is_named_as_the_reason() -> None:
    check = {**CLEAR, "facts": {"uptime": 600.0}}
    _, status = _assessed(row(None, NOW - timedelta(minutes=30)), check, None)
    assert status["missed_reasons"] == [
        "the server was down or rebooting (up since 2026-03-02 11:50 UTC)"
    ]


def test_a_failed_last_run_is_failed_and_carries_its_diagnosis() -> None:
    last = ran("failed", NOW - timedelta(minutes=5), cause="bucket gone", fix="create it")
    state, status = _assessed(row(last), CLEAR, None)
    assert state == "failed" and status["last_run"]["diagnosis"]["fix"] == "create it"

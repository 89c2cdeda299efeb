"""The overview's red/amber/green and "not covered" rules, with time frozen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from ctrlops.services import overview
from ctrlops.services.overview import Fleet, Health, JobRow, RunView, assess

NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)  # a Wednesday
DAILY = "0 2 * * *"
DEPLOYED = NOW - timedelta(days=30)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def run(state: str, started: datetime, **diagnosis: str) -> RunView:
    finished = started + timedelta(minutes=5) if state != "running" else None
    return RunView(started.strftime("%Y%m%dT%H%M%SZ-1"), state, "cron", started, finished,
                   0, 1, 10, 0, 0, dict(diagnosis))  # fmt: skip


def health(runs: list[RunView], expr: str | None = DAILY) -> Health:
    return assess(expr, "UTC", DEPLOYED, runs, datetime.now(UTC))


def today(hour: int, minute: int = 0) -> datetime:
    return NOW.replace(hour=hour, minute=minute)


def test_it_is_green_when_the_last_due_run_succeeded() -> None:
    h = health([run("success", today(2) - timedelta(days=1)), run("success", today(2))])
    assert (h.indicator, h.covered) == ("green", True)


def test_it_is_red_when_the_last_success_is_older_than_the_schedule_allows() -> None:
    # Nothing failed: today's 02:00 run simply never happened.
    h = health([run("success", today(2) - timedelta(days=1))])
    assert (h.indicator, h.covered) == ("red", False)
    assert "due at 2025-03-12 02:00" in h.reason and "32 h ago" in h.reason


def test_it_is_red_when_the_last_run_failed_even_with_an_earlier_success() -> None:
    runs = [run("success", today(2)), run("failed", today(9), cause="the bucket does not exist")]
    h = health(runs)
    assert h.indicator == "red" and "the bucket does not exist" in h.reason
    assert h.covered  # the 02:00 data is still there


def test_it_counts_a_run_that_copied_nothing_as_neither_success_nor_covered() -> None:
    h = health([run("success, nothing copied", today(2))])
    assert (h.indicator, h.covered) == ("red", False)


def test_it_is_amber_for_a_warning_that_still_covers_the_schedule() -> None:
    h = health([run("warning", today(2), cause="3 files were retried")])
    assert (h.indicator, h.covered) == ("amber", True)


def test_it_is_amber_while_a_new_job_waits_for_its_first_scheduled_run() -> None:
    h = assess(DAILY, "UTC", NOW - timedelta(hours=1), [], NOW)
    assert (h.indicator, h.covered) == ("amber", False)


def test_it_lets_the_due_run_finish_while_the_previous_one_covers_it() -> None:
    runs = [run("success", today(2) - timedelta(days=1)), run("running", today(2))]
    h = health(runs)
    assert (h.indicator, h.covered) == ("green", True)


def test_it_allows_a_start_grace_before_a_due_run_counts_as_late() -> None:
    with time_machine.travel(today(2, 1), tick=False):
        h = assess(DAILY, "UTC", DEPLOYED, [run("success", today(2) - timedelta(days=1))],
                   datetime.now(UTC))  # fmt: skip
    assert h.indicator == "green"


def test_it_reads_the_schedule_in_the_servers_timezone() -> None:
    # 02:00 in Tokyo is 17:00 UTC the day before: that run was due and did not happen.
    last = run("success", today(2) - timedelta(days=1))
    assert assess(DAILY, "Asia/Tokyo", DEPLOYED, [last], NOW).indicator == "red"
    fresh = run("success", NOW.replace(day=11, hour=17))
    assert assess(DAILY, "Asia/Tokyo", DEPLOYED, [fresh], NOW).indicator == "green"


def test_it_covers_a_manual_job_for_a_week_after_its_last_success() -> None:
    recent = health([run("success", NOW - timedelta(days=6))], expr=None)
    stale = health([run("success", NOW - timedelta(days=8))], expr=None)
    never = health([], expr=None)
    assert (recent.indicator, recent.covered) == ("green", True)
    assert (stale.indicator, stale.covered) == ("red", False)
    assert (never.indicator, never.covered) == ("amber", False)


def test_it_counts_not_covered_jobs_and_is_zero_only_when_all_have_a_recent_success() -> None:
    def row(h: Health) -> JobRow:
        return JobRow("j", "s", "d", DAILY, "", "UTC", h, None, None, None, NOW)

    good = row(Health("green", "", True))
    failed_but_covered = row(Health("red", "", True))
    stale = row(Health("red", "", False))
    assert Fleet([], [good, failed_but_covered], {}).not_covered == 0
    assert Fleet([], [good, stale, row(Health("amber", "", False))], {}).not_covered == 2


def test_it_pages_the_job_table_and_filters_problems_and_uncovered_jobs() -> None:
    def row(name: str, indicator: str, covered: bool) -> JobRow:
        h = Health(indicator, "", covered)
        return JobRow(name, "s", "d", DAILY, "", "UTC", h, None, None, None, NOW)

    jobs = [row(f"red{i}", "red", False) for i in range(3)]
    jobs += [row("amber", "amber", True)] + [row(f"ok{i:02d}", "green", True) for i in range(60)]
    fleet = Fleet([], jobs, {})
    assert fleet.counts == {"red": 3, "amber": 1, "green": 60}
    first, last = fleet.page(1, size=50), fleet.page(2, size=50)
    assert (first.pages, first.matching, len(first.rows), len(last.rows)) == (2, 64, 50, 14)
    assert [j.name for j in first.rows[:4]] == ["red0", "red1", "red2", "amber"]
    assert fleet.page(99, size=50).number == 2 and fleet.page(-3, size=50).number == 1
    problems = fleet.page(1, "problems")
    assert [j.name for j in problems.rows] == ["red0", "red1", "red2", "amber"]
    assert [j.name for j in fleet.page(1, "uncovered").rows] == ["red0", "red1", "red2"]
    assert fleet.page(1, "nonsense").show == "all"


def test_a_server_needs_attention_when_unchecked_unreachable_or_bannered() -> None:
    checks = {
        "clear": {"ok": True, "banners": []},
        "banner": {"ok": True, "banners": [{"id": "cron_stopped"}]},
        "down": {"ok": False, "banners": []},
        "new": None,
    }
    fleet = Fleet([], [], checks)
    assert [n for n in checks if fleet.attention(n)] == ["banner", "down", "new"]


@pytest.mark.parametrize(
    ("expr", "tz"),
    [("*/7 * * * *", "UTC"), ("30 1 * * *", "Europe/Berlin"), ("0 * * * 1-5", "America/New_York")],
)
def test_schedule_plans_kept_across_pages_answer_as_a_fresh_computation(expr: str, tz: str) -> None:
    # Across a DST change (2025-03-09 in New York, 2025-03-30 in Berlin), minute by minute
    # and in jumps: a plan reused from an earlier page is exactly what computing anew gives.
    overview._PLANS.clear()
    start = datetime(2025, 3, 8, 22, 0, tzinfo=UTC)
    steps = [timedelta(minutes=m) for m in range(0, 240, 1)]
    steps += [timedelta(days=d, minutes=13 * d) for d in range(1, 25)]
    for step in steps:
        now = start + step
        kept = overview.Clock(now)
        fresh = overview._plan(expr, tz, now)
        assert kept.describe(expr, tz) == (fresh.text, fresh.next_run), now
        assert kept.due(expr, tz) == fresh.due, now

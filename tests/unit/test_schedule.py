from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrlops import schedule
from ctrlops.errors import InputError


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("given_expr", "expected"),
    [
        ("0 2 * * *", "0 2 * * *"),
        ("  0   2 * *\t*\n", "0 2 * * *"),
        ("@daily", "0 0 * * *"),
        ("@HOURLY", "0 * * * *"),
        ("*/15 9-17 * * mon", "*/15 9-17 * * mon"),
        ("0 0 1 jan *", "0 0 1 jan *"),
        ("0 0 * * 7", "0 0 * * 7"),
    ],
)
def test_it_normalises_valid_schedules(given_expr: str, expected: str) -> None:
    assert schedule.validate(given_expr) == expected


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("", "empty"),
        ("1 2 3", "5"),
        ("0 0 0 * * *", "5"),  # seconds: cronsim takes them, cron does not
        ("0 61 * * *", "Bad hour"),  # cronsim's own message
        ("0 0 L * *", "day-of-month"),  # cronsim-only syntax cron would reject
        ("0 0 * * 5#2", "day-of-week"),
        ("0 0 * * mon-fri", "day-of-week"),  # Debian cron: names not in ranges
        ("0 0 % * *", "day-of-month"),  # % is a newline to cron
        ("@reboot", "repeating"),
    ],
)
def test_it_refuses_bad_schedules_naming_the_field(bad: str, words: str) -> None:
    with pytest.raises(InputError) as caught:
        schedule.validate(bad)
    assert caught.value.field == "schedule"
    assert words in caught.value.reason


def test_it_describes_a_schedule_in_words() -> None:
    assert schedule.describe("0 2 * * 1-5") == "At 02:00 on Monday through Friday"


def test_it_refuses_an_unknown_timezone() -> None:
    with pytest.raises(InputError) as caught:
        schedule.next_runs("0 2 * * *", "Mars/Olympus", utc(2024, 1, 1), 1)
    assert caught.value.field == "timezone"


def test_it_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        schedule.next_runs("0 2 * * *", "UTC", datetime(2024, 1, 1), 1)


@time_machine.travel(utc(2024, 6, 1, 12, 0), tick=False)
def test_it_computes_next_runs_in_the_server_timezone_as_utc() -> None:
    now = datetime.now(UTC)
    runs = schedule.next_runs("0 2 * * *", "Europe/Berlin", now, 2)
    # 02:00 CEST is 00:00 UTC.
    assert runs == [utc(2024, 6, 2, 0, 0), utc(2024, 6, 3, 0, 0)]
    assert all(r.tzinfo is UTC for r in runs)


def test_it_excludes_now_itself_from_next_runs() -> None:
    assert schedule.next_runs("0 * * * *", "UTC", utc(2024, 1, 1, 5), 1) == [utc(2024, 1, 1, 6)]


def test_it_runs_a_job_in_the_skipped_hour_right_after_spring_forward() -> None:
    # Europe/Berlin jumps 02:00 -> 03:00 on 2024-03-31; Debian cron runs 02:30 at 03:00.
    runs = schedule.next_runs("30 2 * * *", "Europe/Berlin", utc(2024, 3, 30, 12), 2)
    assert runs == [utc(2024, 3, 31, 1, 0), utc(2024, 4, 1, 0, 30)]


def test_it_runs_a_job_in_the_repeated_hour_once_at_fall_back() -> None:
    # New York repeats 01:00-02:00 on 2024-11-03; a fixed-time job runs once (EDT).
    runs = schedule.next_runs("30 1 * * *", "America/New_York", utc(2024, 11, 2, 12), 2)
    assert runs == [utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)]


def test_it_lists_expected_runs_in_the_window_inclusive_of_until() -> None:
    runs = schedule.expected_runs("0 * * * *", "UTC", utc(2024, 1, 1, 0), utc(2024, 1, 1, 3))
    assert runs == [utc(2024, 1, 1, 1), utc(2024, 1, 1, 2), utc(2024, 1, 1, 3)]


def test_it_bounds_expected_runs_to_the_latest_ones() -> None:
    until = utc(2024, 1, 1)
    runs = schedule.expected_runs("* * * * *", "UTC", until - timedelta(days=365), until, 10)
    assert runs == [until - timedelta(minutes=9 - i) for i in range(10)]


def test_it_returns_no_expected_runs_for_an_empty_window() -> None:
    assert schedule.expected_runs("* * * * *", "UTC", utc(2024, 1, 2), utc(2024, 1, 1)) == []


# Days on which one of the zones below changes its clocks (2024).
DST_DAYS = [utc(2024, 3, 10), utc(2024, 3, 31), utc(2024, 4, 7), utc(2024, 10, 6)]
DST_DAYS += [utc(2024, 10, 27), utc(2024, 11, 3)]


@settings(max_examples=40, deadline=None)
@given(
    expr=st.sampled_from(["30 2 * * *", "30 1 * * *", "*/20 * * * *", "0 */3 * * 0", "5 0 1 * *"]),
    tz=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Adelaide"]),
    day=st.sampled_from(DST_DAYS),
    offset=st.integers(min_value=-72 * 60, max_value=24 * 60),
    hours=st.integers(min_value=1, max_value=24 * 5),
)
def test_it_agrees_between_expected_and_next_runs_across_dst(
    expr: str, tz: str, day: datetime, offset: int, hours: int
) -> None:
    # (Not Australia/Lord_Howe: cronsim's forward walk misses a run after its 30-minute
    # jump that its backward walk and cron itself do not.)
    since = day + timedelta(minutes=offset)
    until = since + timedelta(hours=hours)
    forward = [r for r in schedule.next_runs(expr, ZoneInfo(tz), since, 1000) if r <= until]
    assert schedule.expected_runs(expr, tz, since, until, 1000) == forward


def test_it_expects_a_run_in_the_repeated_dst_hour_at_its_first_occurrence() -> None:
    # 02:30 happens twice in Berlin on 2024-10-27 (00:30 and 01:30 UTC); cron runs it once.
    since = datetime(2024, 10, 27, 0, 0, tzinfo=UTC)
    until = datetime(2024, 10, 27, 1, 0, tzinfo=UTC)
    assert schedule.expected_runs("30 2 * * *", "Europe/Berlin", since, until) == [
        datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    ]


def _full_walk(expr: str, tz: str, since: datetime, until: datetime, limit: int) -> list[datetime]:
    """The reference: walk forward from ``since`` like cron, keep the latest ``limit``."""
    from cronsim import CronSim

    zone = ZoneInfo(tz)
    out = [
        t.astimezone(UTC)
        for t in itertools.takewhile(
            lambda t: t.astimezone(UTC) <= until, CronSim(expr, since.astimezone(zone))
        )
    ]
    return [t for t in out if t > since][-limit:]


@given(
    expr=st.sampled_from(
        [
            "* * * * *",
            "*/7 * * * *",
            "30 1 * * *",
            "0 2 * * 0",
            "15 0-3 * * *",
            "0 */5 * * *",
            "59 23 31 * *",
            "0 1 1 1 *",
        ]
    ),
    tz=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
    since=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1)),
    span=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=10)),
    limit=st.integers(min_value=1, max_value=5),
)
@settings(deadline=None, max_examples=60)  # the reference walk is the slow one
def test_expected_runs_matches_a_walk_from_the_start(
    expr: str, tz: str, since: datetime, span: timedelta, limit: int
) -> None:
    start = since.replace(tzinfo=UTC, microsecond=0)
    assert schedule.expected_runs(expr, tz, start, start + span, limit) == _full_walk(
        expr, tz, start, start + span, limit
    )

"""Banners decided from facts and from what the store knows: pure, no server needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ctrlops.health import probes
from ctrlops.health.probes import DestEvent, Known, ScheduledJob, banners
from ctrlops.services.servers import ServerInfo

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
INFO = ServerInfo("web1", "ssh", "h", 22, "u", None, None, None, {})
HEALTHY: dict[str, Any] = {
    "rclone": "/usr/bin/rclone",
    "rclone_version": "rclone v1.68.0",
    "crontab": "/usr/bin/crontab",
    "cron_daemon": "/usr/sbin/cron",
    "cron_running": "cron",
    "timezone": "UTC",
    "clock_offset": 0,
    "disk_size_kb": 100 * 1024 * 1024,
    "disk_free_kb": 50 * 1024 * 1024,
    "disk_used_pct": 50,
    "disk_mount": "/",
}
MIB = 1024


def ids(facts: dict[str, Any], known: Known | None = None) -> list[str]:
    return [b["id"] for b in banners({"facts": {**HEALTHY, **facts}}, INFO, known)]


def only(facts: dict[str, Any], bid: str, known: Known | None = None) -> dict[str, Any]:
    found = [b for b in banners({"facts": {**HEALTHY, **facts}}, INFO, known) if b["id"] == bid]
    assert len(found) == 1, found
    return found[0]


def test_a_healthy_server_has_no_banner() -> None:
    assert ids({}, Known("web1", now=NOW)) == []


# -- clock skew ---------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-60, 0, 59, 60])
def test_it_tolerates_a_clock_within_a_minute(offset: int) -> None:
    assert "clock_skew" not in ids({"clock_offset": offset})


def test_a_clock_ten_minutes_ahead_is_a_warning_with_the_measured_offset() -> None:
    b = only({"clock_offset": 600, "clock_error": 1.0, "init": "systemd"}, "clock_skew")
    assert b["severity"] == "warning" and b["fix"] is None
    assert b["text"] == "Server clock is off by +600 s"
    assert "ahead by 10 min 0 s (±1.0 s)" in b["evidence"]
    assert "timedatectl set-ntp true" in b["evidence"]


def test_a_clock_past_fifteen_minutes_is_an_error_because_s3_refuses_it() -> None:
    b = only({"clock_offset": -3700, "init": "sh"}, "clock_skew")
    assert b["severity"] == "error"
    assert "behind by 1 h 1 min" in b["evidence"]
    assert "RequestTimeTooSkewed" in b["evidence"]
    assert "chrony" in b["evidence"]  # no systemd: timedatectl would not help


# -- disk low -----------------------------------------------------------------------------


def disk(size_kb: int, free_kb: int, mount: str = "/home/u/.ctrlops") -> dict[str, Any]:
    used = 100 - free_kb * 100 // size_kb
    return {
        "disk_size_kb": size_kb,
        "disk_free_kb": free_kb,
        "disk_used_pct": used,
        "disk_mount": mount,
    }


def test_an_almost_empty_small_volume_is_not_low() -> None:
    assert "disk_low" not in ids(disk(8 * MIB, 8 * MIB - 4))


def test_a_small_volume_under_the_floor_is_low_and_the_rule_is_stated() -> None:
    b = only(disk(8 * MIB, 300), "disk_low")
    assert b["severity"] == "error"
    assert "300.0 KiB free of 8.0 MiB, 97% used on /home/u/.ctrlops" in b["evidence"]
    assert "under 4 MiB free, or under 200 MiB once 90% is used" in b["evidence"]


def test_a_big_disk_is_low_only_when_both_nearly_full_and_short_of_space() -> None:
    tib = 1024 * 1024 * MIB
    assert "disk_low" not in ids(disk(tib, 500 * MIB))  # 99.9 % used, 500 MiB still free
    b = only(disk(tib, 150 * MIB), "disk_low")
    assert b["severity"] == "warning" and "150.0 MiB free of 1.0 TiB" in b["evidence"]
    # 300 MiB volume half empty: 150 MiB free is plenty for logs.
    assert "disk_low" not in ids(disk(300 * MIB, 150 * MIB))


def test_it_computes_the_percentage_when_df_gave_none() -> None:
    assert "disk_low" in ids({**disk(2 * 1024 * MIB, 100 * MIB), "disk_used_pct": None})
    assert "disk_low" not in ids({"disk_free_kb": None})


# -- timezone -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("UTC", "Etc/UTC", True),
        ("Europe/Berlin", "Europe/Paris", True),  # other names, the same rules
        ("America/New_York", "US/Eastern", True),
        ("UTC", "America/New_York", False),
        ("Europe/London", "America/New_York", False),  # DST starts weeks apart
        ("Mars/Olympus", "Mars/Olympus", True),
        ("Mars/Olympus", "UTC", False),
    ],
)
def test_it_compares_zones_by_their_rules_not_their_names(a: str, b: str, same: bool) -> None:
    assert probes.same_rules(a, b, NOW) is same


def test_a_job_scheduled_in_another_zone_than_the_servers_is_a_banner() -> None:
    known = Known(
        "web1",
        [
            ScheduledJob("site", "0 2 * * *", "Etc/UTC"),
            ScheduledJob("db", "30 3 * * *", "Etc/UTC"),
            ScheduledJob("mail", "0 4 * * *", "America/New_York"),
        ],
        now=NOW,
    )
    b = only({"timezone": "America/New_York"}, "timezone_changed", known)
    assert b["severity"] == "warning" and b["fix"] == "redeploy"
    assert "now fires in America/New_York (UTC-05:00)" in b["evidence"]
    assert "site (0 2 * * *), db (30 3 * * *) scheduled in Etc/UTC (UTC+00:00)" in b["evidence"]
    assert "mail" not in b["evidence"]
    assert "missed-run detection" in b["evidence"]
    assert "schedules are then read in America/New_York" in b["evidence"]


def test_an_equivalent_zone_name_or_no_scheduled_job_is_no_banner() -> None:
    assert "timezone_changed" not in ids(
        {"timezone": "UTC"}, Known("web1", [ScheduledJob("site", "0 2 * * *", "Etc/UTC")], now=NOW)
    )
    assert "timezone_changed" not in ids({"timezone": "Asia/Tokyo"}, Known("web1", now=NOW))


# -- destination credentials -------------------------------------------------------------


def event(minutes: int, ok: bool, category: str | None = None, what: str = "") -> DestEvent:
    return DestEvent(
        "store",
        NOW + timedelta(minutes=minutes),
        ok,
        category,
        "the secret access key does not match access key AK" if category else "",
        what or "Test Connection from web1",
    )


def cred(*events: DestEvent) -> list[dict[str, Any]]:
    known = Known("web1", events=events, now=NOW)
    return [b for b in banners({"facts": HEALTHY}, INFO, known) if b["id"] == "dest_credentials"]


def test_a_refused_key_is_an_error_banner_with_the_commands_that_fix_it() -> None:
    (b,) = cred(event(0, True), event(5, False, "auth_secret"))
    assert b["severity"] == "error" and b["fix"] is None
    assert b["text"] == "Destination store refuses its credentials: backups to it fail"
    assert "Test Connection from web1 failed on 2025-01-15 12:05 UTC" in b["evidence"]
    assert "does not match access key AK (auth_secret)" in b["evidence"]
    assert "`ctrlops dest edit store --secret-stdin`" in b["evidence"]
    assert "`ctrlops dest test store --server web1`" in b["evidence"]


@pytest.mark.parametrize(
    ("category", "hint"),
    [
        ("auth_key_unknown", "--access-key-id KEY_ID --secret-stdin"),
        ("access_denied", "provider's console"),
    ],
)
def test_each_credential_category_gets_its_own_fix(category: str, hint: str) -> None:
    (b,) = cred(event(0, False, category, "run 20250115-120000 of job site"))
    assert hint in b["evidence"] and "run 20250115-120000 of job site failed" in b["evidence"]


def test_a_later_success_clears_it_and_a_later_unrelated_failure_does_not() -> None:
    refused = event(0, False, "auth_secret")
    assert cred(refused, event(1, True, what="run 1 of job site")) == []
    assert cred(refused, event(1, True)) == []
    assert len(cred(refused, event(1, False, "source_missing"))) == 1
    assert cred(event(0, False, "dns")) == []  # not the key's fault


def test_each_destination_is_judged_on_its_own() -> None:
    other = DestEvent("archive", NOW, False, "auth_key_unknown", "unknown key", "run 1 of job x")
    banners_ = cred(event(0, False, "auth_secret"), event(1, True), other)
    assert [b["text"].split()[1] for b in banners_] == ["archive"]

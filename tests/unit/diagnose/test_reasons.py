"""The runner's reasons and records that cannot vouch for a backup, as a user sees them."""

from __future__ import annotations

import pytest

from ctrlops.backup import records
from ctrlops.diagnose import knowledge
from ctrlops.diagnose.report import explain_log
from ctrlops.diagnose.rules import CATEGORIES, explain_reason, explain_record

RUNS = "/home/backup/.ctrlops/jobs/web-1/runs"
# rclone 1.75's closing summary (--use-json-log, --stats-log-level NOTICE), as it logs it.
SUMMARY = (
    '{"time":"2026-11-26T23:03:50.1Z","level":"notice","msg":"\\nTransferred:   \\t   29.297 '
    "KiB / 29.297 KiB, 100%, 0 B/s, ETA -\\nChecks:                 0 / 0, -, Listed 3\\n"
    'Transferred:            3 / 3, 100%\\nElapsed time:         0.0s\\n\\n","stats":{"bytes":'
    '30000,"checks":0,"deletedDirs":0,"deletes":0,"elapsedTime":0.0027,"errors":0,"eta":null,'
    '"fatalError":false,"listed":3,"renames":0,"retryError":false,"speed":0,"totalBytes":30000,'
    '"totalChecks":0,"totalTransfers":3,"transferTime":0.002,"transfers":3},'
    '"source":"accounting/stats.go:549"}\n'
)


# The states whose diagnosis the control plane reads from the log (services.jobs.NEEDS_LOG).
WITH_LOG = {records.SUCCESS, records.FAILED, records.KILLED, records.RUNNING}


def shown(status: str, log: str = "") -> tuple[str, dict[str, str]]:
    """What the user sees for one ``ctrlops-run status`` record and its log tail."""
    (record,) = records.parse_status(status)
    code = record.exit_code if record.state != records.RUNNING else None
    diagnosis = explain_log(log, exit_code=code) if record.state in WITH_LOG else None
    return records.user_state(record, diagnosis)


def test_it_names_a_full_log_disk_as_local_resource_with_its_path_and_a_fix() -> None:
    found = explain_reason(f"disk_full:{RUNS}")
    assert found is not None
    assert found["category"] == "local_resource"
    assert RUNS in found["cause"] and "full" in found["cause"]
    assert f"df -h {RUNS}" in found["fix"]
    assert "free space" in found["fix"] and "ctrlops server check" in found["fix"]


def test_it_names_a_log_cut_short_as_local_resource() -> None:
    found = explain_reason(f"log_incomplete:{RUNS}/r1/rclone.log")
    assert found is not None
    assert found["category"] == "local_resource"
    assert f"{RUNS}/r1/rclone.log" in found["cause"]
    assert "ctrlops server check" in found["fix"]


@pytest.mark.parametrize(
    ("reason", "category"),
    [
        ("source_missing:/srv/www", "source_missing"),
        ("source_empty:/srv/www", "source_missing"),
        ("binary_missing", "binary_missing"),
        ("config_error:job.env_missing", "config_error"),
    ],
)
def test_it_still_explains_the_reasons_of_older_runners(reason: str, category: str) -> None:
    found = explain_reason(reason)
    assert found is not None and found["category"] == category


@pytest.mark.parametrize("reason", ["", "rclone_exit:5:/srv", "runner_error", "locked"])
def test_it_leaves_reasons_whose_story_is_in_the_log_to_the_log(reason: str) -> None:
    assert explain_reason(reason) is None


def test_every_reason_and_record_problem_uses_a_known_category_and_says_what_to_do() -> None:
    table = {**knowledge.REASONS, **knowledge.RECORD_PROBLEMS}
    for kind, (category, cause, fix) in table.items():
        assert category in CATEGORIES, kind
        assert cause and fix, kind
    assert explain_record("empty_record")["category"] == "local_resource"
    assert explain_record("no_summary")["category"] == "local_resource"


def test_a_run_failed_on_a_full_disk_reads_as_local_resource_whatever_its_log_says() -> None:
    status = (
        "run=20261126T230409Z-41\nstate=failed\ntrigger=cron\nstarted=2026-11-26T23:04:09Z\n"
        f"finished=2026-11-26T23:04:10Z\nexit_code=74\nreason=disk_full:{RUNS}\n\n"
    )
    state, diagnosis = shown(status, SUMMARY)
    assert state == "failed"
    assert diagnosis["category"] == "local_resource" and RUNS in diagnosis["cause"]


def test_the_record_the_runner_names_from_an_empty_status_file_reads_as_a_full_disk() -> None:
    # What `ctrlops-run status` prints for an empty status file beside a "nospace" marker.
    status = (
        "run=20261126T230409Z-41\nstate=failed\nstarted=2026-11-26T23:04:09Z\nexit_code=74\n"
        f"reason=disk_full:{RUNS}\n\n"
    )
    (record,) = records.parse_status(status)
    assert record.started is not None and record.exit_code == 74
    state, diagnosis = shown(status)
    assert (state, diagnosis["category"]) == ("failed", "local_resource")


def test_an_empty_record_from_an_older_runner_reads_as_failed_for_lack_of_space() -> None:
    state, diagnosis = shown("run=20261126T230409Z-41\n\n")
    assert state == "failed"
    assert diagnosis["category"] == "local_resource" and "full" in diagnosis["cause"]


def test_a_success_whose_log_holds_no_summary_is_never_shown_as_a_success() -> None:
    status = "run=r1\nstate=success\nstarted=2026-11-26T23:04:09Z\nexit_code=0\n\n"
    marker = '{"level":"info","msg":"ctrlops-run: next source","source":"ctrlops-run"}\n'
    for log in ("", marker):
        state, diagnosis = shown(status, log)
        assert state == "failed", log
        assert diagnosis["category"] == "local_resource"
    assert shown(status, marker + SUMMARY) == ("success", {})

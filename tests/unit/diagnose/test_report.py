"""Whole-log reasoning: root cause among retries, failed files, ok / zero / stalled runs."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrlops.diagnose.report import MAX_PATHS, OK, explain_log
from ctrlops.diagnose.rules import CATEGORIES

T = "2026/11/26 17:04:22"
SIG = (
    "operation error S3: PutObject, https response error StatusCode: 403, RequestID: 1, "
    "HostID: , api error SignatureDoesNotMatch: The request signature we calculated does not "
    "match the signature you provided. Check your key and signing method."
)
DENIED = (
    "operation error S3: PutObject, https response error StatusCode: 403, api error "
    "AccessDenied: Access Denied."
)
TIMEOUT = 'Put "https://s3.example.test/b/a": dial tcp 192.0.2.10:443: i/o timeout'


def stats_block(*, transferred: int, total: int, checks: int = 0, errors: int = 0) -> str:
    lines = [f"{T} INFO  : ", "Transferred:   \t   1.000 MiB / 1.000 MiB, 100%, 1 MiB/s, ETA 0s"]
    if errors:
        lines.append(f"Errors:        {errors:10d} (retrying may help)")
    if checks:
        lines.append(f"Checks:        {checks:10d} / {checks}, 100%, Listed {checks}")
    if total:
        lines.append(f"Transferred:   {transferred:10d} / {total}, 100%")
    lines += ["Elapsed time:         3.1s", ""]
    return "\n".join(lines)


def test_it_finds_the_first_root_cause_among_retries_and_follow_on_errors() -> None:
    log = "\n".join(
        [
            f"{T} ERROR : a.txt: Failed to copy: {TIMEOUT}",
            f"{T} ERROR : Attempt 1/3 failed with 1 errors and: {TIMEOUT}",
            f"{T} ERROR : a.txt: Failed to copy: {SIG}",
            f"{T} ERROR : Attempt 2/3 failed with 1 errors and: {SIG}",
            f"{T} ERROR : a.txt: Failed to copy: {SIG}",
            f"{T} ERROR : S3 bucket b: not deleting files as there were IO errors",
            f"{T} ERROR : Attempt 3/3 failed with 2 errors and: {SIG}",
            stats_block(transferred=0, total=1, errors=2),
            f"{T} NOTICE: Failed to copy with 2 errors: last error was: {SIG}",
        ]
    )
    d = explain_log(log, exit_code=1)
    assert d.category == "timeout"  # the first cause rclone hit, not the last one it printed
    assert d.evidence[0].endswith(TIMEOUT)
    assert d.failed_files == 1 and d.failed_paths == ("a.txt",)
    assert any("Failed to copy with 2 errors" in e for e in d.evidence)


def test_it_takes_the_root_cause_before_its_retries() -> None:
    log = "\n".join(
        [
            f"{T} ERROR : a.txt: Failed to copy: {SIG}",
            f"{T} ERROR : Attempt 1/3 failed with 1 errors and: {SIG}",
            f"{T} ERROR : a.txt: Failed to copy: {SIG}",
            f"{T} ERROR : Attempt 2/3 failed with 1 errors and: {SIG}",
            stats_block(transferred=0, total=1, errors=1),
        ]
    )
    d = explain_log(log)
    assert d.category == "auth_secret"
    assert "secret access key" in d.fix


def test_it_counts_many_failed_files_and_caps_the_list() -> None:
    failures = [
        f"{T} ERROR : data/f{i:03d}.bin: Failed to copy: failed to open source object: open "
        f"/srv/data/f{i:03d}.bin: permission denied"
        for i in range(30)
    ]
    log = "\n".join([*failures, stats_block(transferred=100, total=130, errors=30)])
    d = explain_log(log, exit_code=1)
    assert d.category == "local_permission"
    assert d.failed_files == 30
    assert len(d.failed_paths) == MAX_PATHS
    assert d.failed_paths[0] == "data/f000.bin"
    assert "30 files failed, 100 copied" in d.cause
    assert d.stats is not None and d.stats.errors == 30 and d.stats.transfers == 100


def test_it_counts_only_the_files_that_failed_in_the_last_attempt() -> None:
    log = "\n".join(
        [
            f"{T} ERROR : a: Failed to copy: {DENIED}",
            f"{T} ERROR : b: Failed to copy: {DENIED}",
            f"{T} ERROR : Attempt 1/2 failed with 2 errors and: {DENIED}",
            f"{T} ERROR : b: Failed to copy: {DENIED}",
            f"{T} ERROR : Attempt 2/2 failed with 1 errors and: {DENIED}",
            stats_block(transferred=1, total=2, errors=1),
        ]
    )
    d = explain_log(log, exit_code=1)
    assert d.category == "access_denied"
    assert d.failed_paths == ("b",)


def test_it_calls_a_recovered_retry_ok_and_says_what_it_recovered_from() -> None:
    log = "\n".join(
        [
            f"{T} ERROR : a: Failed to copy: {TIMEOUT}",
            f"{T} ERROR : Attempt 1/3 failed with 1 errors and: {TIMEOUT}",
            f"{T} INFO  : a: Copied (new)",
            f"{T} ERROR : Attempt 2/3 succeeded",
            stats_block(transferred=1, total=1),
        ]
    )
    d = explain_log(log)
    assert d.category == OK
    assert "recovered" in d.cause
    assert d.failed_files == 0


def test_it_calls_a_no_change_run_ok() -> None:
    log = "\n".join(
        [
            f"{T} INFO  : There was nothing to transfer",
            f"{T} INFO  : ",
            "Transferred:   \t          0 B / 0 B, -, 0 B/s, ETA -",
            "Checks:                 3 / 3, 100%, Listed 6",
            "Elapsed time:         0.0s",
        ]
    )
    for code in (None, 0):
        d = explain_log(log, exit_code=code)
        assert d.category == OK, code
        assert "3 files checked" in d.cause


def test_it_calls_zero_transferred_and_zero_checked_a_silent_failure() -> None:
    log = (
        f"{T} INFO  : There was nothing to transfer\n{T} INFO  : \n"
        "Transferred:   \t          0 B / 0 B, -, 0 B/s, ETA -\nElapsed time:         0.0s\n"
    )
    for code in (None, 0, 9):
        d = explain_log(log, exit_code=code)
        assert d.category == "zero_transferred", code
        assert "source path" in d.cause
        assert any(e.startswith("Transferred:") for e in d.evidence)


def test_it_reads_json_logs_like_text_logs() -> None:
    lines = [
        {"level": "error", "msg": f"Failed to copy: {DENIED}", "object": "f1.txt"},
        {"level": "error", "msg": f"Attempt 1/1 failed with 1 errors and: {DENIED}"},
        {
            "level": "info",
            "msg": "\nTransferred: 0 B / 0 B, -, 0 B/s, ETA -\n",
            "stats": {"bytes": 0, "errors": 1, "transfers": 2, "checks": 0},
        },
    ]
    d = explain_log("\n".join(json.dumps(o) for o in lines), exit_code=1)
    assert d.category == "access_denied"
    assert d.failed_paths == ("f1.txt",)
    assert "1 file failed, 2 copied" in d.cause


def test_it_calls_a_harmless_notice_ok() -> None:
    log = f'{T} NOTICE: Config file "/root/.config/rclone/rclone.conf" not found - using defaults'
    assert explain_log(log, exit_code=0).category == OK
    assert explain_log(log).category == OK


def test_it_sees_through_the_is_a_file_trap() -> None:
    trap = f'{T} CRITICAL: Failed to create file system for "s3t:b/x": is a file not a directory'
    d = explain_log(trap, exit_code=1)
    assert d.category == "access_denied"
    assert "No file is in the way" in d.cause
    # With -vv the storage's real answer is in a debug line: it wins over the vague trap.
    debug = (
        f"{T} DEBUG : S3 bucket b: Couldn't check "
        '"b/x" for children after HEAD failed '
        "(operation error S3: HeadObject, https response error StatusCode: 403, api error "
        "Forbidden: Forbidden): operation error S3: ListObjects, https response error "
        "StatusCode: 403, api error InvalidAccessKeyId: The access key ID you provided does "
        "not exist in our records."
    )
    assert explain_log(f"{debug}\n{trap}", exit_code=1).category == "auth_key_unknown"


def test_it_prefers_errors_over_debug_noise() -> None:
    log = "\n".join(
        [
            f"{T} DEBUG : pacer: low level retry 1/10 (error operation error S3: PutObject, "
            "https response error StatusCode: 503, api error SlowDown: Please reduce your "
            "request rate.)",
            f"{T} ERROR : a: Failed to copy: {DENIED}",
            stats_block(transferred=0, total=1, errors=1),
        ]
    )
    assert explain_log(log, exit_code=1).category == "access_denied"


@pytest.mark.parametrize("code", [137, 143, -9, -15])
def test_it_reports_a_signalled_run_as_killed(code: int) -> None:
    log = f"{T} INFO  : a: Copied (new)\n"
    d = explain_log(log, exit_code=code)
    assert d.category == "killed"
    assert str(code) in d.cause


def test_it_reports_rclone_missing_from_the_shell_line() -> None:
    d = explain_log("bash: rclone: command not found\n", exit_code=127)
    assert d.category == "binary_missing"
    assert explain_log("", exit_code=127).category == "binary_missing"


def test_it_falls_back_to_the_exit_code_when_no_line_explains() -> None:
    log = f"{T} ERROR : a: Failed to copy: something odd\n" + stats_block(
        transferred=0, total=1, errors=1
    )
    d = explain_log(log, exit_code=3)
    assert d.category == "source_missing"
    assert explain_log(log, exit_code=2).category == "other"


def test_it_reports_a_stalled_heartbeat() -> None:
    beats = [
        {
            "level": "info",
            "msg": "\nTransferred: x\n",
            "stats": {"bytes": b, "totalBytes": 10**9, "elapsedTime": t},
        }
        for b, t in ((100, 10.0), (5000, 60.0), (5000, 400.0), (5000, 900.0))
    ]
    d = explain_log("\n".join(json.dumps(o) for o in beats))
    assert d.category == "stalled"
    assert "14 minutes" in d.cause
    # A finished run (exit code known) is never "stalled".
    assert explain_log("\n".join(json.dumps(o) for o in beats), exit_code=0).category != "stalled"


@pytest.mark.parametrize("text", ["", "   \n\n", "\x00\x01garbage\xff", '{"level": "err', "[]"])
def test_it_answers_other_for_empty_or_garbage_input(text: str) -> None:
    d = explain_log(text)
    assert d.category == "other"
    assert d.cause and d.fix


def test_it_gives_the_documented_json_shape() -> None:
    log = f"{T} ERROR : a: Failed to copy: {DENIED}\n" + stats_block(
        transferred=0, total=1, errors=1
    )
    shape = explain_log(log, exit_code=1, provider="aws").as_dict()
    assert set(shape) == {
        "category",
        "cause",
        "fix",
        "evidence",
        "failed_files",
        "failed_paths",
        "stats",
    }
    assert shape["failed_files"] == 1 and shape["failed_paths"] == ["a"]
    assert shape["stats"]["errors"] == 1
    assert "s3:PutObject" in shape["fix"]  # the AWS hint
    json.dumps(shape)


@settings(max_examples=200)
@given(
    st.text(max_size=1500),
    st.one_of(st.none(), st.integers(min_value=-20, max_value=300)),
    st.sampled_from([None, "aws", "r2", "b2", "wasabi", "spaces", "minio", "s3", "??"]),
)
def test_it_always_answers_in_the_vocabulary(
    text: str, code: int | None, provider: str | None
) -> None:
    d = explain_log(text, exit_code=code, provider=provider)
    assert d.category in (*CATEGORIES, OK)
    assert isinstance(d.evidence, tuple)
    json.dumps(d.as_dict())


@given(st.integers(min_value=0, max_value=2000))
def test_it_survives_a_truncated_real_log(cut: int) -> None:
    log = "\n".join(
        [f"{T} ERROR : a.txt: Failed to copy: {SIG}", stats_block(transferred=0, total=1, errors=1)]
    )
    d = explain_log(log[:cut])
    assert d.category in (*CATEGORIES, OK)


def test_it_reads_a_notice_level_failed_to_as_the_end_of_the_command() -> None:
    log = (
        "2026/11/26 17:04:22 NOTICE: Failed to ls: operation error S3: ListObjects, https "
        "response error StatusCode: 403, RequestID: 18EBA726ECB8BFC5, HostID: , api error "
        "SignatureDoesNotMatch: The request signature we calculated does not match the "
        "signature you provided. Check your key and signing method.\n"
    )
    assert explain_log(log).category == "auth_secret"

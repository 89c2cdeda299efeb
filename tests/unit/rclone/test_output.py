"""Parsing rclone logs: text and --use-json-log forms, stats blocks, and hostile input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctrlops.rclone.output import Stats, parse_duration, parse_log, parse_size

# Captured from rclone 1.75 (`rclone copy -v`) against SeaweedFS on loopback.
TEXT_LOG = """\
2026/11/26 17:14:08 ERROR : f0.txt: Failed to copy: operation error S3: PutObject, https \
response error StatusCode: 403, RequestID: 18EB, HostID: , api error AccessDenied: Access Denied.
2026/11/26 17:14:08 ERROR : Attempt 1/1 failed with 1 errors and: operation error S3: \
PutObject, https response error StatusCode: 403, api error AccessDenied: Access Denied.
2026/11/26 17:14:08 INFO  : f1.txt: Copied (new)
2026/11/26 17:14:08 INFO  :\x20
Transferred:   	        300 B / 300 B, 100%, 0 B/s, ETA -
Errors:                 1 (retrying may help)
Checks:                 2 / 2, 100%, Listed 3
Transferred:            1 / 2, 50%
Elapsed time:         1m2.5s

2026/11/26 17:14:08 NOTICE: Failed to copy with 1 errors: last error was: AccessDenied
"""

JSON_LOG = "\n".join(
    json.dumps(o)
    for o in (
        {
            "time": "2026-11-26T17:14:10.504821945Z",
            "level": "error",
            "msg": "error reading source root directory: directory not found",
            "object": "Local file system at /tmp/dg/nosuchdir",
            "objectType": "*local.Fs",
            "source": "march/march.go:568",
        },
        {
            "time": "2026-11-26T17:14:10.505347191Z",
            "level": "info",
            "msg": "\nTransferred:   \t          0 B / 0 B, -, 0 B/s, ETA -\nErrors:    1\n",
            "stats": {
                "bytes": 0,
                "checks": 0,
                "errors": 1,
                "elapsedTime": 0.0025,
                "fatalError": False,
                "retryError": True,
                "lastError": "directory not found",
                "listed": 0,
                "totalBytes": 0,
                "totalTransfers": 0,
                "transfers": 0,
            },
            "source": "accounting/stats.go:549",
        },
    )
)


def test_it_parses_text_lines_with_level_object_and_time() -> None:
    log = parse_log(TEXT_LOG)
    first = log.lines[0]
    assert first.level == "error"
    assert first.object == "f0.txt"
    assert first.text.startswith("Failed to copy: operation error S3: PutObject")
    assert first.time == "2026/11/26 17:14:08"
    assert first.raw.startswith("2026/11/26 17:14:08 ERROR : f0.txt:")
    attempt = log.lines[1]
    assert attempt.object is None and attempt.text.startswith("Attempt 1/1 failed")
    assert log.lines[-1].level == "notice" and log.lines[-1].object is None


def test_it_reads_the_final_text_stats_block() -> None:
    stats = parse_log(TEXT_LOG).stats
    assert stats == Stats(
        bytes=300,
        total_bytes=300,
        transfers=1,
        total_transfers=2,
        checks=2,
        total_checks=2,
        errors=1,
        listed=3,
        elapsed=62.5,
        fatal_error=False,
        retry_error=True,
    )


def test_it_parses_json_lines_and_their_stats_object() -> None:
    log = parse_log(JSON_LOG)
    assert log.lines[0].level == "error"
    assert log.lines[0].object == "Local file system at /tmp/dg/nosuchdir"
    assert log.lines[0].message.startswith("Local file system at /tmp/dg/nosuchdir: error")
    assert log.lines[0].time == "2026-11-26T17:14:10.504821945Z"
    assert log.stats is not None
    assert log.stats.errors == 1 and log.stats.retry_error is True
    assert log.stats.last_error == "directory not found"
    assert log.stats.elapsed == pytest.approx(0.0025)


def test_it_keeps_the_last_of_several_stats() -> None:
    beats = [
        json.dumps({"level": "info", "msg": "", "stats": {"bytes": n, "transfers": n // 10}})
        for n in (10, 20, 30)
    ]
    log = parse_log("\n".join(beats))
    assert [s.bytes for s in log.stats_history] == [10, 20, 30]
    assert log.stats is not None and log.stats.bytes == 30 and log.stats.transfers == 3


def test_it_reads_the_rclone_1_5x_stats_format() -> None:
    old = (
        "2020/10/16 20:39:06 INFO  : \n"
        "Transferred:   \t   10.965M / 10.965 MBytes, 100%, 1.227 MBytes/s, ETA 0s\n"
        "Errors:                 2 (retrying may help)\n"
        "Checks:                 3 / 3, 100%\n"
        "Transferred:            4 / 4, 100%\n"
        "Elapsed time:        8.9s\n"
    )
    stats = parse_log(old).stats
    assert stats is not None
    assert stats.bytes == int(10.965 * 1024 * 1024)
    assert (stats.transfers, stats.checks, stats.errors) == (4, 3, 2)
    assert stats.listed is None and stats.elapsed == pytest.approx(8.9)


def test_it_joins_sdk_v1_continuation_lines_to_their_message() -> None:
    log = parse_log(
        "2020/10/16 20:39:06 ERROR : test3.txt: Failed to copy: AccessDenied: not entitled\n"
        "        status code: 403, request id: f93b7f10c87a8867, host id: aZecz\n"
    )
    assert len(log.lines) == 1
    assert log.lines[0].object == "test3.txt"
    assert "status code: 403" in log.lines[0].text


def test_it_keeps_lines_rclone_did_not_write_as_levelless() -> None:
    log = parse_log("bash: rclone: command not found\nKilled\n")
    assert [(ln.level, ln.message) for ln in log.lines] == [
        ("", "bash: rclone: command not found"),
        ("", "Killed"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        '{"level": "error", "msg": "Failed to co',
        '{"level": 3, "msg": ["x"], "stats": {"bytes": "lots", "elapsedTime": NaN}}',
        "[1, 2, 3]",
        "\x00\xff\xfe garbage \x1b[31m red \x1b[0m",
        "Transferred: / , ETA\nElapsed time: forever",
        "{" * 5000,
    ],
)
def test_it_never_raises_on_broken_input(text: str) -> None:
    log = parse_log(text)
    assert isinstance(log.lines, tuple)


def test_it_accepts_bytes_with_invalid_utf8() -> None:
    log = parse_log(b"2026/11/26 17:14:08 ERROR : \xff\xfe: Failed to copy: x\n")
    assert log.lines[0].level == "error"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("300 B", 300),
        ("1.5 KiB", 1536),
        ("2 MiB", 2 * 1024**2),
        ("10M", 10 * 1024**2),
        ("0 Bytes", 0),
        ("2 kBytes", 2048),
        ("1 GiB", 1024**3),
        ("x", None),
    ],
)
def test_it_parses_rclone_sizes(text: str, expected: int | None) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0s", 0.0),
        ("8.9s", 8.9),
        ("1m2.3s", 62.3),
        ("1h0m0.5s", 3600.5),
        ("2d3h0.1s", 183600.1),
        ("soon", None),
    ],
)
def test_it_parses_rclone_durations(text: str, expected: float | None) -> None:
    got = parse_duration(text)
    assert got == (pytest.approx(expected) if expected is not None else None)


@given(st.text(max_size=2000))
def test_it_never_raises_on_random_text(text: str) -> None:
    parse_log(text)


@given(st.binary(max_size=500))
def test_it_never_raises_on_random_bytes(data: bytes) -> None:
    parse_log(data)


@given(st.integers(min_value=0, max_value=len(TEXT_LOG)))
def test_it_never_raises_on_a_truncated_log(cut: int) -> None:
    parse_log(TEXT_LOG[:cut])
    parse_log(JSON_LOG[: cut % (len(JSON_LOG) + 1)])


def test_it_adds_up_the_runs_of_a_job_with_several_sources() -> None:
    import json as _json

    from ctrlops.rclone.output import RUN_MARKER

    def stats(transfers: int, checks: int, elapsed: float) -> str:
        return _json.dumps(
            {
                "level": "notice",
                "msg": "stats",
                "stats": {
                    "bytes": transfers * 10,
                    "transfers": transfers,
                    "checks": checks,
                    "errors": 0,
                    "elapsedTime": elapsed,
                },
            }
        )

    marker = _json.dumps({"level": "info", "msg": RUN_MARKER})
    log = "\n".join([marker, stats(1, 0, 5.0), stats(3, 2, 9.0), marker, stats(0, 0, 0.1)])
    st = parse_log(log).stats
    assert st is not None
    assert (st.transfers, st.checks, st.bytes) == (3, 2, 30)

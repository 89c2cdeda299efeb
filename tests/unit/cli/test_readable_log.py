from __future__ import annotations

import json

from ctrlops.cli.jobs import readable


def test_it_shows_json_log_lines_as_time_level_and_message() -> None:
    lines = [
        json.dumps(
            {
                "time": "2026-11-26T17:31:01.355Z",
                "level": "error",
                "msg": "Failed to copy: AccessDenied",
                "object": "www/a.txt",
            }
        ),
        json.dumps(
            {
                "time": "2026-11-26T17:31:02Z",
                "level": "notice",
                "msg": "\nTransferred: 0 B / 0 B\nChecks: 1 / 1\n",
                "stats": {"bytes": 0},
            }
        ),
        "plain text from a shell",
    ]
    out = readable("\n".join(lines)).splitlines()
    assert out[0] == "2026-11-26 17:31:01 ERROR  www/a.txt: Failed to copy: AccessDenied"
    assert out[1] == "2026-11-26 17:31:02 NOTICE Transferred: 0 B / 0 B"
    assert out[2] == "Checks: 1 / 1"
    assert out[-1] == "plain text from a shell"

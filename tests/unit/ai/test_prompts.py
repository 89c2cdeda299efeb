"""The prompt: a bounded, redacted log tail with the job's facts and the offline diagnosis."""

from __future__ import annotations

from ctrlops.ai.prompts import SYSTEM_PROMPT, log_tail, messages, user_message


def test_it_keeps_the_end_of_a_long_log_within_its_bounds() -> None:
    log = "\n".join(f"line {i}" for i in range(1000))
    tail = log_tail(log, max_lines=50, max_bytes=10_000)
    assert tail.splitlines()[0] == "line 950" and tail.endswith("line 999")
    cut = log_tail(log, max_lines=1000, max_bytes=100)
    assert len(cut.encode()) <= 100 and cut.endswith("line 999")
    assert all(line.startswith("line ") for line in cut.splitlines())  # no half line


def test_it_does_not_split_a_multibyte_character() -> None:
    assert log_tail("é" * 100, max_bytes=11) == "é" * 5


def test_it_builds_the_question_from_facts_diagnosis_and_log() -> None:
    msg = user_message(
        "ERROR : NoSuchBucket\npassword=hunter2",
        {"server_os": "Debian 12", "provider": "r2", "schedule": None},
        {"category": "bucket_missing", "cause": "no bucket", "fix": "create it",
         "evidence": ["token=abc123 NoSuchBucket"]},
    )  # fmt: skip
    assert "- provider: r2" in msg and "- server_os: Debian 12" in msg
    assert "schedule" not in msg
    assert "- category: bucket_missing" in msg and "ERROR : NoSuchBucket" in msg
    assert "hunter2" not in msg and "abc123" not in msg


def test_it_asks_for_a_cause_and_a_fix() -> None:
    system, user = messages("x", {}, {})
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert "Cause:" in SYSTEM_PROMPT and "Fix:" in SYSTEM_PROMPT and user["role"] == "user"

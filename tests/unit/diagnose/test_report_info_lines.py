"""INFO lines skipped cheaply by the whole-log diagnosis: no finding lost, none added.

``report._findings`` only tries the whole rule table on an INFO line when a ``killed`` rule
could match it (INFO is progress; a signal is the one failure rclone reports there). These
tests hold it to the plain "explain every line, keep INFO only for ``killed``" reading.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ctrlops.diagnose import report
from ctrlops.diagnose.report import explain_log
from ctrlops.diagnose.rules import RULES, Finding, explain
from ctrlops.rclone.output import ParsedLog, parse_log
from tests.unit.diagnose.test_rules import PUBLISHED

T = "2026/11/26 17:04:22"
PROGRESS = [f"{T} INFO  : dir{i:04d}/file.txt: Copied (new)" for i in range(200)]
LEVELS = ("INFO  ", "NOTICE", "ERROR ", "DEBUG ", "CRITICAL")
# Messages every rule family can meet, the two kinds a `killed` rule matches among them.
MESSAGES = [m for m, _ in PUBLISHED] + [
    "Signal received: interrupt",
    "Signal received: terminated",
    "signal: killed",
    "Killed",
    "There was nothing to transfer",
    "a.txt: Copied (new)",
]


def reference(log: ParsedLog, provider: str | None) -> list[Finding]:
    """The findings as they were before the pre-check: every line through the rules."""
    out: list[Finding] = []
    for line in log.lines:
        found = explain(line.message, provider)
        if found is None or (line.level == "info" and found.category != "killed"):
            continue
        out.append(
            Finding(found.rule_id, found.category, found.cause, found.fix, found.weak, line.raw)
        )
    return out


def test_the_killed_rules_are_the_ones_an_info_line_is_tried_against() -> None:
    assert report._INFO_RULES
    assert {r.id for r in report._INFO_RULES} == {r.id for r in RULES if r.category == "killed"}


def test_it_still_finds_a_signal_reported_at_info_level_among_progress_lines() -> None:
    log = "\n".join([*PROGRESS, f"{T} INFO  : Signal received: interrupt", *PROGRESS[:3]])
    d = explain_log(log)
    assert d.category == "killed"
    assert "signal (interrupt)" in d.cause
    assert d.evidence[0].endswith("Signal received: interrupt")


def test_it_still_finds_a_signal_in_a_json_info_line() -> None:
    lines = [{"level": "info", "msg": "Copied (new)", "object": f"f{i}.txt"} for i in range(50)] + [
        {"level": "info", "msg": "Signal received: terminated"}
    ]
    d = explain_log("\n".join(json.dumps(o) for o in lines))
    assert d.category == "killed"
    assert "signal (terminated)" in d.cause


def test_it_keeps_ignoring_failures_named_in_info_lines() -> None:
    # An INFO line quoting an S3 error is progress (e.g. a retried listing), not a failure.
    denied = next(m for m, cat in PUBLISHED if cat == "access_denied")
    log = "\n".join([*PROGRESS[:5], f"{T} INFO  : {denied}"])
    assert report._findings(parse_log(log), None) == []
    assert explain_log(log, exit_code=0).category == "ok"


def test_every_published_message_at_every_level_gives_the_same_findings() -> None:
    text = "\n".join(f"{T} {level}: {m}" for m in MESSAGES for level in LEVELS)
    log = parse_log(text)
    for provider in (None, "aws", "r2", "b2"):
        assert report._findings(log, provider) == reference(log, provider)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(LEVELS), st.sampled_from(MESSAGES), st.booleans()),
        max_size=30,
    )
)
def test_any_mix_of_lines_gives_the_same_findings(picked: list[tuple[str, str, bool]]) -> None:
    lines = [
        json.dumps({"level": level.strip().lower(), "msg": m}) if as_json else f"{T} {level}: {m}"
        for level, m, as_json in picked
    ]
    log = parse_log("\n".join(lines))
    assert report._findings(log, "wasabi") == reference(log, "wasabi")

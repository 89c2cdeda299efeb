from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrlops.errors import CtrlopsError, InputError
from ctrlops.runner import crontab
from ctrlops.runner.crontab import BEGIN, END, Entry
from ctrlops.runner.layout import CRON_PATH

ENTRIES = [Entry("web-2", "*/15 * * * *"), Entry("db-1", "0 2 * * *")]
BLOCK = crontab.render_block(ENTRIES)

# A user's crontab: any lines but our markers (those are ours by definition), with or
# without a final newline, with \r, form feeds and unicode in comments.
user_line = st.text(st.characters(blacklist_characters="\n\x00"), max_size=30).filter(
    lambda line: line.rstrip("\r") not in (BEGIN, END)
)
user_text = st.lists(user_line, max_size=8).map("\n".join) | st.lists(user_line, max_size=8).map(
    lambda lines: "".join(f"{line}\n" for line in lines)
)


def test_it_renders_each_job_with_the_path_cron_lacks() -> None:
    lines = BLOCK.splitlines()
    assert lines[0] == BEGIN and lines[-1] == END
    assert lines[2] == (
        f'0 2 * * * PATH={CRON_PATH} "$HOME/.ctrlops/bin/ctrlops-run" start db-1 cron'
        " >/dev/null 2>&1"
    )
    assert lines[-2].startswith("# ctrlops sha256=")
    assert "%" not in BLOCK
    assert BLOCK.endswith("\n")


def test_it_renders_the_same_bytes_whatever_the_order() -> None:
    assert crontab.render_block(reversed(ENTRIES)) == BLOCK


def test_it_renders_nothing_for_no_jobs() -> None:
    assert crontab.render_block([]) == ""


def test_it_refuses_a_job_scheduled_twice() -> None:
    with pytest.raises(InputError):
        crontab.render_block([Entry("a", "0 * * * *"), Entry("a", "5 * * * *")])


@pytest.mark.parametrize(
    ("uid", "expr"), [("a b", "0 * * * *"), ("a%b", "0 * * * *"), ("a", "0 % * * *")]
)
def test_it_refuses_entries_that_would_break_the_line(uid: str, expr: str) -> None:
    with pytest.raises(InputError):
        Entry(uid, expr)


def test_it_parses_back_what_it_rendered_as_intact() -> None:
    block = crontab.parse_block("MAILTO=me\n" + BLOCK + "1 1 * * * /bin/true\n")
    assert block is not None
    assert block.entries == tuple(sorted(ENTRIES, key=lambda e: e.uid))
    assert not block.drifted


def test_it_finds_no_block_in_a_users_own_crontab() -> None:
    assert crontab.parse_block("0 1 * * * backup.sh\n") is None


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b.replace("0 2 * * *", "0 3 * * *"),  # schedule changed by hand
        lambda b: b.replace("\n0 2 * * *", "\n#0 2 * * *"),  # job commented out
        lambda b: b.replace(END, "0 4 * * * /bin/mine\n" + END),  # user line inside
        lambda b: "\n".join(line for line in b.split("\n") if "sha256" not in line),
        lambda b: b + b,  # duplicated block
        lambda b: b.replace(END + "\n", ""),  # END deleted
        lambda b: END + "\n" + b.replace(END + "\n", ""),  # markers misordered
    ],
)
def test_it_detects_hand_edits_and_broken_markers_as_drift(edit: Callable[[str], str]) -> None:
    block = crontab.parse_block("MAILTO=me\n" + edit(BLOCK))
    assert block is not None
    assert block.drifted


def test_it_still_reads_entries_from_a_drifted_block() -> None:
    block = crontab.parse_block(BLOCK.replace("0 2 * * *", "0 3 * * *"))
    assert block is not None and block.drifted
    assert Entry("db-1", "0 3 * * *") in block.entries


def test_it_appends_a_block_after_a_last_line_without_newline() -> None:
    assert crontab.replace_block("0 1 * * * mine", BLOCK) == "0 1 * * * mine\n" + BLOCK
    assert crontab.replace_block("", BLOCK) == BLOCK


def test_it_replaces_a_block_in_place() -> None:
    before, after = "MAILTO=me\n# mine\n", "PATH=/x\n5 5 * * * mine\n"
    old = crontab.render_block([Entry("old", "1 1 * * *")])
    assert crontab.replace_block(before + old + after, BLOCK) == before + BLOCK + after


def test_it_collapses_duplicated_blocks_into_one() -> None:
    text = "a\n" + BLOCK + "b\n" + BLOCK + "c"
    assert crontab.replace_block(text, BLOCK) == "a\n" + BLOCK + "b\nc"


def test_it_refuses_to_guess_where_a_damaged_block_ends() -> None:
    text = "a\n" + BLOCK.replace(END + "\n", "") + "0 1 * * * mine\n"
    with pytest.raises(CtrlopsError) as caught:
        crontab.replace_block(text, BLOCK)
    assert caught.value.category == "config_error"


def test_it_refuses_a_block_it_did_not_render() -> None:
    with pytest.raises(ValueError):
        crontab.replace_block("", "* * * * * rm -rf /\n")


@settings(max_examples=200)
@given(before=user_text, after=user_text)
def test_it_keeps_user_lines_byte_for_byte_across_replace_and_remove(
    before: str, after: str
) -> None:
    # Place the block between two user parts (as another tool or an older ctrlops did).
    joint = before if not before or before.endswith("\n") else before + "\n"
    start = joint + crontab.render_block([Entry("old", "1 1 * * *")]) + after
    replaced = crontab.replace_block(start, BLOCK)
    assert replaced == joint + BLOCK + after
    removed = crontab.replace_block(replaced, "")
    assert removed == joint + after
    # Appending then removing gives back the user's text (plus at most the newline that
    # keeps their last line a line).
    added = crontab.replace_block(before, BLOCK)
    assert added.startswith(before) and added.endswith(BLOCK)
    assert crontab.replace_block(added, "") in (before, before + "\n")
    parsed = crontab.parse_block(added)
    assert parsed is not None and not parsed.drifted


@settings(max_examples=100)
@given(text=user_text)
def test_it_leaves_a_crontab_without_block_alone_when_removing(text: str) -> None:
    assert crontab.replace_block(text, "") == text


# ---- scheduled verification lines ------------------------------------------------------

RUN = '"$HOME/.ctrlops/bin/ctrlops-run"'
# A block exactly as ctrlops wrote it before verification lines existed (servers deployed
# then still carry it): it must read back intact, and re-rendering must not touch it.
OLD_BLOCK = (
    "# BEGIN ctrlops\n"
    "# Managed by ctrlops: edits here are overwritten. Add your own jobs outside.\n"
    f"0 2 * * * PATH={CRON_PATH} {RUN} start db-1 cron >/dev/null 2>&1\n"
    f"*/15 * * * * PATH={CRON_PATH} {RUN} start web-2 cron >/dev/null 2>&1\n"
    "# ctrlops sha256=6b1be766866d5d6e8b6f3a70c2c58f300fb376f3b2a726b40c2a981e4fda4f08\n"
    "# END ctrlops\n"
)
WITH_VERIFY = [*ENTRIES, Entry("db-1", "0 3 * * 0", crontab.VERIFY)]


def test_it_reads_a_block_written_before_verification_lines_as_intact() -> None:
    block = crontab.parse_block("MAILTO=me\n" + OLD_BLOCK)
    assert block is not None and not block.drifted
    assert {(e.uid, e.action) for e in block.entries} == {("db-1", "start"), ("web-2", "start")}
    assert crontab.render_block(ENTRIES) == OLD_BLOCK


def test_it_renders_a_verify_line_after_the_jobs_backup_line() -> None:
    lines = crontab.render_block(reversed(WITH_VERIFY)).splitlines()
    assert lines[2:5] == [
        f"0 2 * * * PATH={CRON_PATH} {RUN} start db-1 cron >/dev/null 2>&1",
        f"0 3 * * 0 PATH={CRON_PATH} {RUN} verify db-1 cron >/dev/null 2>&1",
        f"*/15 * * * * PATH={CRON_PATH} {RUN} start web-2 cron >/dev/null 2>&1",
    ]


def test_it_parses_verify_lines_back_with_their_action() -> None:
    block = crontab.parse_block(crontab.render_block(WITH_VERIFY))
    assert block is not None and not block.drifted
    assert set(block.entries) == set(WITH_VERIFY)
    assert Entry("db-1", "0 3 * * 0", crontab.VERIFY) in block.entries


def test_it_schedules_a_verification_without_a_backup_schedule() -> None:
    only = [Entry("manual-1", "*/5 * * * *", crontab.VERIFY)]
    block = crontab.parse_block(crontab.render_block(only))
    assert block is not None and block.entries == tuple(only)


def test_it_refuses_two_verify_lines_for_one_job_and_unknown_actions() -> None:
    with pytest.raises(InputError):
        crontab.render_block(
            [Entry("a", "0 * * * *", crontab.VERIFY), Entry("a", "5 * * * *", crontab.VERIFY)]
        )
    with pytest.raises(InputError) as caught:
        Entry("a", "0 * * * *", "kill")
    assert caught.value.field == "action"


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b.replace("0 3 * * 0", "0 4 * * 0"),  # verify schedule changed by hand
        lambda b: b.replace(" verify db-1 ", " verify web-2 "),  # pointed at another job
        lambda b: b.replace(" verify db-1 ", " prune db-1 "),  # an action ctrlops never writes
    ],
)
def test_it_detects_hand_edits_of_a_verify_line(edit: Callable[[str], str]) -> None:
    block = crontab.parse_block(edit(crontab.render_block(WITH_VERIFY)))
    assert block is not None and block.drifted

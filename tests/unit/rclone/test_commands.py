"""Pure argv builders for the Test Connection steps."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctrlops.rclone import commands

CONF = "/home/u/.ctrlops/tmp/ab12/rclone.conf"


def flag(argv: tuple[str, ...], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_it_lists_buckets_one_level_deep() -> None:
    argv = commands.list_buckets("/usr/bin/rclone", CONF, timeout=20)
    assert argv[:2] == ("/usr/bin/rclone", "lsf")
    assert flag(argv, "--max-depth") == "1"
    assert argv[-2:] == ("--", "dest:")


@pytest.mark.parametrize(
    ("build", "verb"),
    [
        (commands.list_dir, "lsf"),
        (commands.write_stdin, "rcat"),
        (commands.read, "cat"),
        (commands.delete, "deletefile"),
    ],
)
def test_it_builds_each_step_with_config_and_bounds(
    build: Callable[..., tuple[str, ...]], verb: str
) -> None:
    argv = build("rclone", CONF, "dest:bkt/pre/.probe", timeout=20)
    assert argv[:2] == ("rclone", verb)
    assert flag(argv, "--config") == CONF
    assert flag(argv, "--contimeout") == "5s"
    assert flag(argv, "--timeout") == "5s"
    assert flag(argv, "--retries") == "1"
    assert flag(argv, "--low-level-retries") == "1"
    assert argv[-2:] == ("--", "dest:bkt/pre/.probe")
    assert all(isinstance(a, str) for a in argv)


def test_it_keeps_timeouts_bounded_and_at_least_a_second() -> None:
    assert flag(commands.read("r", CONF, "dest:b/x", timeout=2), "--timeout") == "1s"
    assert flag(commands.read("r", CONF, "dest:b/x", timeout=10), "--timeout") == "2.5s"
    assert flag(commands.read("r", CONF, "dest:b/x", timeout=300), "--contimeout") == "10s"


@pytest.mark.parametrize("path", ["/etc/passwd", "--config=/x", "-dest:b", "bkt/x", ":b"])
def test_it_refuses_anything_but_a_remote_path(path: str) -> None:
    with pytest.raises(ValueError):
        commands.read("rclone", CONF, path, timeout=20)


def test_it_refuses_a_relative_config_path() -> None:
    with pytest.raises(ValueError):
        commands.read("rclone", "rclone.conf", "dest:b/x", timeout=20)


@given(st.text(max_size=40))
def test_it_never_lets_a_path_become_a_flag(rest: str) -> None:
    argv = commands.write_stdin("rclone", CONF, "dest:" + rest, timeout=20)
    # Everything after "--" is positional for rclone; the path is the only element there.
    assert argv[argv.index("--") + 1 :] == ("dest:" + rest,)

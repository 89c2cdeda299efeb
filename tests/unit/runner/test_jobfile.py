from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrlops.errors import InputError
from ctrlops.runner import jobfile
from ctrlops.runner.jobfile import JobFiles

JOB = JobFiles(uid="web-1", name="Web", mode="copy", bucket="backups", sources=("/srv",))

# Whatever the shell reads: every code point but NUL (no shell variable can hold NUL).
# Surrogates cannot be written to a file at all: refusing them is tested separately.
shell_text = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40
)
# The quoting-relevant characters, heavily, so the property does not rely on luck.
metachars = st.text(st.sampled_from(list("'\"\\$`!*?[]{}();&|<> \t\n~#=%\r")), max_size=20)

ENV_KEYS = ("JOB_UID", "JOB_NAME", "MODE", "REMOTE", "BUCKET", "PREFIX", "BWLIMIT")
ENV_KEYS += ("TRANSFERS", "CHECKERS", "STATS_INTERVAL", "FAST_LIST", "EXTRA_FLAGS")
ENV_KEYS += ("RUNS_KEEP", "JOB_FORMAT")


def source_in_dash(text: str, tmp: Path) -> dict[str, bytes]:
    """Source ``text`` in dash and return every job.env value, byte for byte."""
    env_file = tmp / "job.env"
    env_file.write_bytes(text.encode())
    script = '. "$1"; shift; for k; do eval "v=\\$$k"; printf "%s=%s\\0" "$k" "$v"; done'
    out = subprocess.run(
        ["dash", "-c", script, "dash", str(env_file), *ENV_KEYS],
        capture_output=True,
        check=True,
        cwd=tmp,
    ).stdout
    pairs = [item.split(b"=", 1) for item in out.split(b"\0") if item]
    return {k.decode(): v for k, v in pairs}


def expected_values(job: JobFiles) -> dict[str, bytes]:
    return {
        "JOB_UID": job.uid.encode(),
        "JOB_NAME": job.name.encode(),
        "MODE": job.mode.encode(),
        "REMOTE": job.remote.encode(),
        "BUCKET": job.bucket.encode(),
        "PREFIX": job.prefix.encode(),
        "BWLIMIT": job.bwlimit.encode(),
        "TRANSFERS": str(job.transfers).encode(),
        "CHECKERS": str(job.checkers).encode(),
        "STATS_INTERVAL": job.stats_interval.encode(),
        "FAST_LIST": b"1" if job.fast_list else b"0",
        "EXTRA_FLAGS": "\n".join(job.extra_flags).encode(),
        "RUNS_KEEP": str(job.keep_runs).encode(),
        "JOB_FORMAT": b"1",
    }


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=shell_text | metachars, bwlimit=shell_text | metachars, flag=metachars)
def test_it_renders_job_env_that_dash_reads_back_exactly(
    tmp_path: Path, name: str, bwlimit: str, flag: str
) -> None:
    bwlimit = bwlimit.replace("\n", "").replace("\r", "")
    flag = "--x" + flag.replace("\n", "").replace("\r", "")
    job = replace(JOB, name=name, bwlimit=bwlimit, extra_flags=(flag, "--y"), prefix="a'b/$(c)")
    text = jobfile.render_job_env(job)
    # A value that could run something would have created this file.
    canary = tmp_path / "pwned"
    assert source_in_dash(text, tmp_path) == expected_values(job)
    assert not canary.exists()


def test_it_does_not_execute_command_substitutions_in_values(tmp_path: Path) -> None:
    evil = "$(touch pwned)`touch pwned2`'; touch pwned3; '"
    text = jobfile.render_job_env(replace(JOB, name=evil))
    assert source_in_dash(text, tmp_path)["JOB_NAME"] == evil.encode()
    assert not list(tmp_path.glob("pwned*"))


@pytest.mark.parametrize("value", ["a\x00b", "\udcff"])
def test_it_refuses_values_a_shell_cannot_hold(value: str) -> None:
    with pytest.raises(InputError) as caught:
        replace(JOB, name=value)
    assert caught.value.field == "name"


@settings(max_examples=100)
@given(
    # Surrogates cannot be written to a file at all: refusing them is tested separately.
    path=st.text(
        st.characters(blacklist_characters="\x00\n\r/", blacklist_categories=("Cs",)), min_size=1
    ).map(lambda s: "/" + s)
)
def test_it_writes_one_source_per_line_that_reads_back(path: str) -> None:
    if any(part in (".", "..") for part in path.split("/")):
        return
    job = replace(JOB, sources=(path, "/etc"))
    assert jobfile.render_sources(job).split("\n") == [path, "/etc", ""]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("srv/data", "absolute"),
        ("/srv/da\nta", "line break"),
        ("/srv/da\rta", "line break"),
        ("/srv/\x00", "NUL"),
        ("/srv/../etc", "'..'"),
    ],
)
def test_it_refuses_bad_sources_naming_the_field(bad: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        replace(JOB, sources=(bad,))
    assert caught.value.field == "source"
    assert reason in caught.value.reason


def test_it_refuses_no_sources_and_duplicates() -> None:
    with pytest.raises(InputError, match="at least one"):
        jobfile.validate_sources([])
    with pytest.raises(InputError, match="twice"):
        jobfile.validate_sources(["/srv", "/srv/"])


def test_it_normalises_sources_and_prefix() -> None:
    job = replace(JOB, sources=("/srv/data/", "/", "//etc"), prefix="/web/1/")
    assert job.sources == ("/srv/data", "/", "/etc")
    assert job.prefix == "web/1"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("*.tmp\n", "line break"),
        ("#cache", "comment"),
        (";x", "comment"),
        (" *.log", "blanks"),
        ("", "empty"),
        ("a\x00", "NUL"),
    ],
)
def test_it_refuses_excludes_rclone_would_misread(bad: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        replace(JOB, excludes=("*.bak", bad))
    assert caught.value.field == "exclude"
    assert reason in caught.value.reason


def test_it_renders_excludes_one_per_line_and_empty_when_none() -> None:
    assert jobfile.render_excludes(JOB) == ""
    assert jobfile.render_excludes(replace(JOB, excludes=("*.tmp", "/cache/**"))) == (
        "*.tmp\n/cache/**\n"
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"uid": "Web_1"}, "uid"),
        ({"uid": "-web"}, "uid"),
        ({"mode": "move"}, "mode"),
        ({"remote": "a:b"}, "remote"),
        ({"bucket": "a/b"}, "bucket"),
        ({"prefix": "a/../b"}, "prefix"),
        ({"prefix": "a\nb"}, "prefix"),
        ({"transfers": 0}, "transfers"),
        ({"checkers": 5000}, "checkers"),
        ({"stats_interval": "1 s"}, "stats_interval"),
        ({"extra_flags": ("-v",)}, "extra_flags"),
        ({"extra_flags": ("--config=/tmp/x",)}, "extra_flags"),
        ({"extra_flags": ("--quiet",)}, "extra_flags"),
        ({"extra_flags": ("--syslog",)}, "extra_flags"),
        ({"extra_flags": ("--a\n--b",)}, "extra_flags"),
        ({"bwlimit": "1M\n"}, "bwlimit"),
        ({"keep_runs": -1}, "keep_runs"),
    ],
)
def test_it_names_the_bad_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as caught:
        replace(JOB, **changes)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_it_writes_the_verification_settings_the_runner_reads(tmp_path: Path) -> None:
    job = replace(JOB, verify_download=True, restore_test_files=7, keep_verifies=12)
    env = tmp_path / "job.env"
    env.write_text(jobfile.render_job_env(job))
    script = '. "$1"; printf "%s|%s|%s" "$VERIFY_DOWNLOAD" "$RESTORE_TEST_FILES" "$VERIFIES_KEEP"'
    out = subprocess.run(["dash", "-c", script, "dash", str(env)], capture_output=True, text=True)
    assert out.stdout == "1|7|12"
    assert "VERIFY_DOWNLOAD='0'" in jobfile.render_job_env(JOB)
    assert "RESTORE_TEST_FILES='0'" in jobfile.render_job_env(JOB)


@pytest.mark.parametrize("files", [-1, jobfile.MAX_RESTORE_TEST_FILES + 1])
def test_it_refuses_a_restore_test_size_out_of_range(files: int) -> None:
    with pytest.raises(InputError) as caught:
        replace(JOB, restore_test_files=files)
    assert caught.value.field == "--restore-test-files"

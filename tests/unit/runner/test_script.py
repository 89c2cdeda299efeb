from __future__ import annotations

import re
import subprocess

from ctrlops.runner import script


def test_it_ships_the_runner_with_its_version_on_line_two() -> None:
    text = script.load()
    assert text.startswith(b"#!/bin/sh\n")
    assert script.version_of(text) == script.RUNNER_VERSION


def test_it_keeps_the_scripts_own_version_variable_in_step() -> None:
    found = re.search(rb"^RUNNER_VERSION=([0-9]+)$", script.load(), re.MULTILINE)
    assert found and int(found.group(1)) == script.RUNNER_VERSION


def test_it_reads_no_version_from_other_text() -> None:
    assert script.version_of("") is None
    assert script.version_of("#!/bin/sh\necho hi\n") is None
    assert script.version_of("# ctrlops-run version 3\n") is None
    assert script.version_of("#!/bin/sh\n# ctrlops-run version 12\n") == 12
    assert script.version_of(b"#!/bin/sh\r\n# ctrlops-run version 4\r\n") == 4


def test_it_parses_as_posix_sh_under_dash() -> None:
    subprocess.run(["dash", "-n"], input=script.load(), check=True)


def test_it_uses_no_common_bashisms() -> None:
    text = script.load().decode()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    bashisms = [r"\[\[", r"\bfunction\s", r"\blocal\s", r"\$'", "<<<", r"\$\{!", "==", "&>"]
    bashisms += [
        r"(?<![\w-])source\s",
        r"\bpushd\b",
        r"\$RANDOM",
        r"\bdeclare\b",
        r"\bread -[a-qs-z]",
    ]
    for bashism in bashisms:
        assert not re.search(bashism, code), bashism

"""The facts script's output parsed, and its timezone rule run by this machine's sh."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ctrlops.server.facts import FACTS_SCRIPT, parse

ZONEINFO = Path("/usr/share/zoneinfo")


def test_it_parses_the_disk_facts_of_a_mount_with_spaces() -> None:
    f = parse(
        "disk_size_kb=8192\ndisk_free_kb=300\ndisk_used_pct=97\n"
        "disk_mount=/home/u/My Backups\ntimezone=America/New_York\nepoch=x\n"
    )
    assert (f["disk_size_kb"], f["disk_free_kb"], f["disk_used_pct"]) == (8192, 300, 97)
    assert f["disk_mount"] == "/home/u/My Backups"
    assert f["timezone"] == "America/New_York"
    assert f["epoch"] is None


@pytest.mark.skipif(not Path("/etc/localtime").exists(), reason="no /etc/localtime here")
def test_the_zone_it_names_has_the_rules_of_etc_localtime() -> None:
    sh = shutil.which("dash") or "sh"
    out = subprocess.run([sh, "-c", FACTS_SCRIPT], capture_output=True, text=True, check=True)
    facts = parse(out.stdout)
    # Cron reads /etc/localtime; the name reported must be a zone with exactly those bytes.
    assert (ZONEINFO / facts["timezone"]).read_bytes() == Path("/etc/localtime").read_bytes()
    assert facts["disk_size_kb"] >= facts["disk_free_kb"] > 0
    assert facts["disk_mount"].startswith("/")

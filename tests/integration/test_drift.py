"""A crontab block changed by hand is a banner, and Redeploy puts it right."""

from __future__ import annotations

import subprocess

from ctrlops.services import health, jobs, servers
from tests.support.jobs import Bed, run


def crontab_of(user: str) -> str:
    return subprocess.run(["crontab", "-l", "-u", user], capture_output=True, text=True).stdout


def set_crontab(user: str, text: str) -> None:
    subprocess.run(["crontab", "-u", user, "-"], input=text, text=True, check=True)


def drift_banner(result: dict[str, object]) -> list[dict[str, str]]:
    return [b for b in result["banners"] if b["id"] == "crontab_drift"]  # type: ignore[attr-defined,index]


def test_a_hand_edited_schedule_is_a_banner_and_redeploy_fixes_it(bed: Bed) -> None:
    info = jobs.spec(
        "site",
        server=bed.server,
        sources=[str(bed.tree())],
        dest=bed.dest,
        schedule_expr="0 2 * * *",
    )
    run(jobs.add(info))
    assert drift_banner(run(servers.check(bed.server))) == []
    deployed = crontab_of(bed.sshd.user)

    set_crontab(bed.sshd.user, deployed.replace("0 2 * * *", "0 5 * * *"))
    shown = drift_banner(run(servers.check(bed.server)))
    assert len(shown) == 1
    assert shown[0]["text"] == "Backup schedule changed outside ctrlops"
    assert shown[0]["fix"] == "redeploy"

    result = run(health.apply_fix(bed.server, "redeploy"))
    assert result["changed"] and result["fixed"]
    assert crontab_of(bed.sshd.user) == deployed
    assert run(health.apply_fix(bed.server, "redeploy"))["changed"] is False


def test_a_removed_block_is_a_banner_too(bed: Bed) -> None:
    info = jobs.spec(
        "site",
        server=bed.server,
        sources=[str(bed.tree())],
        dest=bed.dest,
        schedule_expr="0 2 * * *",
    )
    run(jobs.add(info))
    set_crontab(bed.sshd.user, "# only my own things\n")
    shown = drift_banner(run(servers.check(bed.server)))
    assert shown and "missing" in shown[0]["evidence"]
    run(health.apply_fix(bed.server, "redeploy"))
    text = crontab_of(bed.sshd.user)
    assert text.startswith("# only my own things\n") and "0 2 * * * PATH=" in text

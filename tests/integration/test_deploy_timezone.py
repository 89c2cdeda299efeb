"""A job follows its server's timezone unless the user gave one; a zone change is real.

The server's zone is changed as an administrator would (a private mount namespace in which
/etc/localtime and /etc/timezone name America/New_York, see test_banners_real.py): the
server's own sshd answers on a new port inside it, and the stored server is moved there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ctrlops.errors import InputError
from ctrlops.runner import layout
from ctrlops.services import jobs, servers
from tests.integration.test_banners_real import banners, move_server, sshd_in_zone
from tests.support.cli import ctrlops, ctrlops_json
from tests.support.jobs import Bed, add_job, run
from tests.support.sshd import SSHBed

NEW_YORK = "America/New_York"


def job_file(sshd: SSHBed, name: str, file: str = "job.env") -> Path:
    return sshd.home / layout.job_dir(jobs.get(name).uid) / file


def test_job_deploy_after_the_servers_zone_changed_follows_the_new_zone(
    bed: Bed, tmp_path: Path
) -> None:
    add_job(bed, "site", [bed.tree()], schedule_expr="0 2 * * *")
    before = jobs.get("site").timezone
    assert before is not None and before != NEW_YORK
    assert jobs.pinned_timezone(jobs.get("site")) is None
    home_port = bed.sshd.port

    with sshd_in_zone(bed.sshd, NEW_YORK, "both", tmp_path / "ny-sshd") as port:
        move_server(bed.server, port)
        status, deployed = ctrlops_json("job", "deploy", "site")

        assert status == 0, deployed
        assert deployed["timezone"] == NEW_YORK
        assert jobs.get("site").timezone == NEW_YORK
        assert run(jobs.status("site"))["timezone"] == NEW_YORK
        assert banners(run(servers.check(bed.server)), "timezone_changed") == []

    move_server(bed.server, home_port)
    status, deployed = ctrlops_json("job", "deploy", "site")
    assert status == 0, deployed
    assert jobs.get("site").timezone == before


def test_a_zone_the_user_gave_stays_and_deploy_and_edit_refuse_a_server_in_another(
    bed: Bed, tmp_path: Path
) -> None:
    add_job(bed, "probe", [bed.tree()], schedule_expr="0 3 * * *")
    zone = jobs.get("probe").timezone  # the server's zone, given explicitly below
    assert zone is not None
    add_job(bed, "pinned", [bed.tree()], schedule_expr="0 2 * * *", timezone=zone)
    assert jobs.pinned_timezone(jobs.get("pinned")) == zone
    env_before = job_file(bed.sshd, "pinned").read_text()
    deployed_at = jobs.get("pinned").deployed_at

    with sshd_in_zone(bed.sshd, NEW_YORK, "both", tmp_path / "ny-sshd") as port:
        move_server(bed.server, port)
        refused = ctrlops("job", "deploy", "pinned")
        edited = ctrlops("job", "edit", "pinned", "--bwlimit", "1M")

    for r in (refused, edited):
        assert r.returncode == 2, (r.stdout, r.stderr)
        out = r.stdout + r.stderr
        assert "--timezone" in out
        assert f"runs cron in {NEW_YORK}, not {zone}" in out
    # The edit kept the zone the user gave; nothing was stored or written.
    info = jobs.get("pinned")
    assert (info.timezone, info.bwlimit, info.deployed_at) == (zone, None, deployed_at)
    assert jobs.pinned_timezone(info) == zone
    assert job_file(bed.sshd, "pinned").read_text() == env_before


def test_a_server_redeploy_refuses_a_pinned_zone_before_writing_anything(
    bed: Bed, tmp_path: Path
) -> None:
    add_job(bed, "follows", [bed.tree()], schedule_expr="0 2 * * *")
    zone = jobs.get("follows").timezone
    add_job(bed, "pinned", [bed.tree()], schedule_expr="0 4 * * *", timezone=zone)
    # What a redeploy writes, taken away so that any write would show.
    runner = bed.sshd.home / layout.RUNNER
    runner.unlink()
    job_file(bed.sshd, "follows").unlink()

    with sshd_in_zone(bed.sshd, NEW_YORK, "both", tmp_path / "ny-sshd") as port:
        move_server(bed.server, port)
        with pytest.raises(InputError) as e:
            run(jobs.redeploy_server(bed.server))
        assert e.value.field == "--timezone"
        assert not runner.exists()
        assert not job_file(bed.sshd, "follows").exists()
        assert jobs.get("follows").timezone == zone

        # Following the server's zone (what the timezone banner's Redeploy means) drops the pin.
        names = run(jobs.redeploy_server(bed.server, follow_server_zone=True))

    assert sorted(names) == ["follows", "pinned"]
    assert runner.exists() and job_file(bed.sshd, "follows").exists()
    for name in names:
        info = jobs.get(name)
        assert (info.timezone, jobs.pinned_timezone(info)) == (NEW_YORK, None)

"""The pure half of restore and verify: input checks, the point-in-time plan, argv."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ctrlops.backup import restore as rp
from ctrlops.errors import InputError

CONF = "/home/u/.ctrlops/tmp/ab12/rclone.conf"
T = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
BEFORE = T - timedelta(hours=1)
AFTER = T + timedelta(hours=1)
R_OLD = "20250301T110000Z-10"  # before T
R_1 = "20250301T130000Z-20"  # after T
R_2 = "20250301T140000Z-30"  # after T, later


def obj(path: str, *, mtime: datetime = BEFORE, uploaded: datetime = BEFORE) -> rp.Obj:
    return rp.Obj(path, 3, mtime, uploaded)


def picked(plan: rp.Plan) -> dict[str, str]:
    return {o.path: origin for origin, objs in plan.picks.items() for o in objs}


# ---- input ------------------------------------------------------------------------------


def test_it_reads_at_in_utc_or_with_an_offset() -> None:
    assert rp.parse_at("2025-03-01T12:00:00Z") == T
    assert rp.parse_at("2025-03-01T14:00:00+02:00") == T


@pytest.mark.parametrize("bad", ["2025-03-01T12:00:00", "yesterday", "", "2025-13-01T00:00Z"])
def test_it_refuses_an_at_without_zone_or_not_a_time(bad: str) -> None:
    with pytest.raises(InputError) as e:
        rp.parse_at(bad)
    assert e.value.field == "--at"


def test_it_reads_the_start_time_out_of_a_run_id() -> None:
    assert rp.run_started(R_1) == datetime(2025, 3, 1, 13, 0, tzinfo=UTC)
    assert rp.validate_run_id(R_1) == R_1
    with pytest.raises(InputError) as e:
        rp.validate_run_id("../20250301T130000Z-1")
    assert e.value.field == "--run"


def test_it_limits_paths_to_the_sources_and_drops_nested_ones() -> None:
    sources = ["/var/www", "/etc/nginx"]
    assert rp.validate_paths([], sources) == ("/etc/nginx", "/var/www")
    got = rp.validate_paths(["/var/www/img/", "/var/www/img/a.png", "/etc/nginx"], sources)
    assert got == ("/etc/nginx", "/var/www/img")


@pytest.mark.parametrize(
    "bad",
    ["/var/www/../../etc/shadow", "var/www", "/var/wwwx", "/etc", "/var/www/a\nb", "/var/./www"],
)
def test_it_refuses_a_path_outside_the_sources_or_climbing_out(bad: str) -> None:
    with pytest.raises(InputError) as e:
        rp.validate_paths([bad], ["/var/www", "/etc/nginx"])
    assert e.value.field == "--path"


def test_it_refuses_a_relative_or_climbing_target() -> None:
    assert rp.validate_target("/srv/restore/") == "/srv/restore"
    for bad in ["restore", "/srv/../etc", "~/x"]:
        with pytest.raises(InputError) as e:
            rp.validate_target(bad)
        assert e.value.field == "--to"


# ---- listings and the plan ----------------------------------------------------------------


def test_it_reads_an_lsjson_listing_with_upload_and_modification_times() -> None:
    text = json.dumps(
        [
            {"Path": "d", "IsDir": True},
            {
                "Path": "srv/a.txt",
                "Size": 5,
                "ModTime": "2026-11-26T17:45:15.588362322Z",
                "IsDir": False,
                "Metadata": {"btime": "2026-11-26T17:46:07Z", "mtime": "2001-09-09T01:46:40Z"},
            },
        ]
    )
    [o] = rp.parse_listing(text)
    assert (o.path, o.size) == ("srv/a.txt", 5)
    assert o.mtime == datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC)
    assert o.uploaded == datetime(2026, 11, 26, 17, 46, 7, tzinfo=UTC)
    [plain] = rp.parse_listing(text.replace('"Metadata"', '"X"'))
    assert plain.mtime == datetime(2026, 11, 26, 17, 45, 15, 588362, tzinfo=UTC)
    assert plain.uploaded is None


def test_it_keeps_only_run_directories_oldest_first() -> None:
    assert rp.parse_run_dirs(f"{R_2}/\nnot-a-run/\n{R_OLD}/\n{R_1}/\n") == [R_OLD, R_1, R_2]


def test_at_selects_only_runs_that_started_after_it() -> None:
    cut = rp.cut_at(T, [R_2, R_OLD, R_1])
    assert cut.after == (R_1, R_2)
    assert rp.cut_at(AFTER + timedelta(days=1), [R_OLD, R_1]).after == ()
    # A run that started exactly at T counts as done by T.
    assert rp.cut_at(rp.run_started(R_1), [R_1]).after == ()


def test_run_selects_the_runs_after_it_and_judges_creations_by_its_finish() -> None:
    finished = datetime(2025, 3, 1, 11, 5, tzinfo=UTC)
    cut = rp.cut_after_run(R_OLD, [R_OLD, R_1, R_2], finished)
    assert (cut.after, cut.at, cut.run) == ((R_1, R_2), finished, R_OLD)
    assert rp.cut_after_run(R_1, [R_OLD, R_1, R_2], None).at == rp.run_started(R_1)


def test_without_a_time_it_restores_current_under_the_roots_only() -> None:
    current = [obj("var/www/a"), obj("var/www/sub/b"), obj("var/wwwx/c"), obj("old/source/d")]
    plan = rp.plan(current, {}, ["/var/www"], None)
    assert picked(plan) == {"var/www/a": "current", "var/www/sub/b": "current"}
    assert plan.excluded == []


def test_the_oldest_saved_copy_after_t_wins_over_later_ones_and_current() -> None:
    current = [obj("s/kept", uploaded=AFTER, mtime=AFTER), obj("s/same")]
    versions = {
        R_OLD: [obj("s/kept"), obj("s/same")],  # before T: never used
        R_1: [obj("s/kept"), obj("s/deleted")],
        R_2: [obj("s/kept"), obj("s/deleted")],
    }
    plan = rp.plan(current, versions, ["/s"], rp.cut_at(T, versions))
    assert picked(plan) == {
        "s/kept": f"versions/{R_1}",
        "s/deleted": f"versions/{R_1}",
        "s/same": "current",
    }


def test_it_leaves_out_files_created_after_t() -> None:
    current = [
        obj("s/new", uploaded=AFTER, mtime=AFTER),  # created after T
        obj("s/late-upload", uploaded=AFTER, mtime=BEFORE),  # existed at T at the source
    ]
    # Created after T, then deleted after T: its saved copy was modified after T.
    versions = {R_2: [obj("s/brief", mtime=AFTER)]}
    plan = rp.plan(current, versions, ["/s"], rp.cut_at(T, [R_2]))
    assert picked(plan) == {"s/late-upload": "current"}
    assert plan.excluded == ["/s/brief", "/s/new"]


def test_a_name_with_a_line_break_is_reported_not_listed() -> None:
    plan = rp.plan([obj("s/a\nb"), obj("s/ok")], {}, ["/s"], None)
    assert picked(plan) == {"s/ok": "current"}
    assert plan.unlistable == ["/s/a\nb"]
    assert rp.files_from(plan.objects) == b"s/ok\n"


def test_it_places_files_under_the_target_by_their_absolute_path() -> None:
    assert rp.target_path("/restore", "var/www/a") == "/restore/var/www/a"
    assert rp.target_path("/", "var/www/a") == "/var/www/a"


# ---- argv ---------------------------------------------------------------------------------


def test_it_builds_the_remote_root_of_a_job() -> None:
    assert rp.remote_root("bkt", "team/web", "current") == "dest:bkt/team/web/current"
    assert rp.remote_root("bkt", "", "versions", R_1) == f"dest:bkt/versions/{R_1}"


def test_listing_argv_reads_the_config_file_and_ends_with_the_remote() -> None:
    argv = rp.list_objects("rclone", CONF, "dest:bkt/current", metadata=True)
    assert argv[:2] == ("rclone", "lsjson")
    assert argv[argv.index("--config") + 1] == CONF
    assert {"-R", "--files-only", "--metadata"} <= set(argv)
    assert argv[-2:] == ("--", "dest:bkt/current")
    assert "--metadata" not in rp.list_objects("rclone", CONF, "dest:b", metadata=False)


def test_copy_argv_ignores_existing_files_unless_overwrite() -> None:
    argv = rp.copy("rclone", CONF, "dest:bkt/current", "/srv/r", "/tmp/l", overwrite=False)
    assert argv[:2] == ("rclone", "copy")
    assert argv[argv.index("--files-from-raw") + 1] == "/tmp/l"
    assert "--ignore-existing" in argv
    assert argv[-3:] == ("--", "dest:bkt/current", "/srv/r")
    forced = rp.copy("rclone", CONF, "dest:bkt/current", "/srv/r", "/tmp/l", overwrite=True)
    assert "--ignore-existing" not in forced


def test_argv_refuses_a_local_path_where_a_remote_belongs_and_vice_versa() -> None:
    with pytest.raises(ValueError):
        rp.copy("rclone", CONF, "/local", "/srv/r", "/tmp/l", overwrite=False)
    with pytest.raises(ValueError):
        rp.copy("rclone", CONF, "dest:b", "relative:dir", "/tmp/l", overwrite=False)
    with pytest.raises(ValueError):
        rp.list_dirs("rclone", "relative.conf", "dest:b")


def test_check_argv_reports_both_ways_with_the_jobs_excludes() -> None:
    argv = rp.check("rclone", CONF, "/var/www", "dest:b/current/var/www", excludes="/t/ex")
    assert argv[:2] == ("rclone", "check")
    assert argv[argv.index("--combined") + 1] == "-"
    assert argv[argv.index("--exclude-from") + 1] == "/t/ex"
    assert "--one-way" not in argv and "--download" not in argv
    assert argv[-3:] == ("--", "/var/www", "dest:b/current/var/www")
    assert "--download" in rp.check("rclone", CONF, "/a", "dest:b", download=True)


def test_it_sorts_the_combined_report_into_categories() -> None:
    report = rp.parse_combined("= same\n+ only-src\n* changed\n- only-dst\n! broken\nnoise\n")
    whole = rp.CheckReport()
    whole.add(report, "/var/www/")
    summary = whole.summary()
    assert summary["missing"] == {"count": 1, "paths": ["/var/www/only-src"]}
    assert summary["differ"]["paths"] == ["/var/www/changed"]
    assert summary["extra"]["paths"] == ["/var/www/only-dst"]
    assert summary["errors"]["count"] == summary["matched"]["count"] == 1

"""Fix plans per distro, init system and sudo: pure, no server needed."""

from __future__ import annotations

from typing import Any

import pytest

from ctrlops.health import fixes
from ctrlops.health.probes import MIN_RCLONE, banners
from ctrlops.services.servers import ServerInfo

DEBIAN: dict[str, Any] = {
    "arch": "x86_64",
    "pkg": "apt-get",
    "init": "systemd",
    "sudo": "passwordless",
    "home": "/home/u",
    "rclone": "",
    "crontab": "/usr/bin/crontab",
    "cron_daemon": "/usr/sbin/cron",
    "cron_running": "cron",
}


def facts(**over: Any) -> dict[str, Any]:
    return {**DEBIAN, **over}


def test_it_uploads_rclone_when_the_arch_matches_in_either_spelling() -> None:
    for server, local in (("x86_64", "AMD64"), ("amd64", "x86_64"), ("aarch64", "arm64")):
        p = fixes.install_rclone(facts(arch=server, sudo="none"), local)
        assert p.needed and p.upload and p.commands == () and p.manual is None


def test_it_does_not_upload_a_binary_from_another_os() -> None:
    p = fixes.install_rclone(facts(), "x86_64", local_os="darwin")
    assert not p.upload
    assert p.commands == (
        (
            "sudo",
            "-n",
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            "install",
            "-y",
            "rclone",
        ),
    )


@pytest.mark.parametrize(
    ("pkg", "argv"),
    [
        (
            "apt-get",
            ("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "rclone"),
        ),
        ("dnf", ("dnf", "install", "-y", "rclone")),
        ("yum", ("yum", "install", "-y", "rclone")),
        ("zypper", ("zypper", "--non-interactive", "install", "rclone")),
        ("apk", ("apk", "add", "rclone")),
        ("pacman", ("pacman", "-S", "--noconfirm", "--needed", "rclone")),
    ],
)
def test_it_installs_rclone_by_package_for_another_arch_as_root(
    pkg: str, argv: tuple[str, ...]
) -> None:
    p = fixes.install_rclone(facts(arch="aarch64", pkg=pkg, sudo="root"), "x86_64")
    assert p.needed and not p.upload and p.commands == (argv,) and p.manual is None


def test_it_gives_the_exact_rclone_command_without_passwordless_sudo() -> None:
    p = fixes.install_rclone(facts(arch="aarch64", sudo="password"), "x86_64")
    assert p.commands == ()
    assert p.manual == "sudo apt-get install -y rclone"


def test_it_does_nothing_when_a_new_enough_rclone_is_there() -> None:
    p = fixes.install_rclone(
        facts(rclone="/usr/bin/rclone", rclone_version="rclone v1.68.2"), "x86_64"
    )
    assert not p.needed and p.commands == () and not p.upload


def test_it_replaces_an_rclone_older_than_the_runner_needs() -> None:
    old = f"rclone v{MIN_RCLONE[0]}.{MIN_RCLONE[1] - 1}.0"
    p = fixes.install_rclone(facts(rclone="/usr/bin/rclone", rclone_version=old), "x86_64")
    assert p.needed and p.upload


def test_the_version_rule_banners_only_an_rclone_older_than_min_rclone() -> None:
    info = ServerInfo("s", "local", None, None, None, None, None, None, {})
    major, minor = MIN_RCLONE

    def ids(version: str) -> list[str]:
        f = facts(rclone="/usr/bin/rclone", rclone_version=version)
        return [b["id"] for b in banners({"facts": f}, info)]

    assert "rclone_missing" in ids(f"rclone v{major}.{minor - 1}.9")
    # Debian 12's package prints "rclone v1.60.1-DEV": the floor itself is accepted.
    assert "rclone_missing" not in ids(f"rclone v{major}.{minor}.1-DEV")


@pytest.mark.parametrize(
    ("pkg", "init", "expected"),
    [
        (
            "apt-get",
            "systemd",
            [
                ("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "cron"),
                ("systemctl", "enable", "--now", "cron"),
            ],
        ),
        (
            "dnf",
            "systemd",
            [("dnf", "install", "-y", "cronie"), ("systemctl", "enable", "--now", "crond")],
        ),
        ("yum", "init", [("yum", "install", "-y", "cronie"), ("service", "crond", "start")]),
        (
            "zypper",
            "systemd",
            [
                ("zypper", "--non-interactive", "install", "cronie"),
                ("systemctl", "enable", "--now", "cron"),
            ],
        ),
        (
            "apk",
            "init",
            [
                ("apk", "add", "dcron"),
                ("rc-update", "add", "crond", "default"),
                ("rc-service", "crond", "start"),
            ],
        ),
        ("apk", "sh", [("apk", "add", "dcron"), ("crond",)]),
        (
            "pacman",
            "systemd",
            [
                ("pacman", "-S", "--noconfirm", "--needed", "cronie"),
                ("systemctl", "enable", "--now", "cronie"),
            ],
        ),
    ],
)
def test_it_installs_the_distros_cron_package_and_starts_it_as_root(
    pkg: str, init: str, expected: list[tuple[str, ...]]
) -> None:
    p = fixes.install_cron(facts(pkg=pkg, init=init, sudo="root", crontab="", cron_daemon=""))
    assert p.needed and p.manual is None
    assert list(p.commands) == expected


def test_it_installs_cron_through_passwordless_sudo() -> None:
    p = fixes.install_cron(facts(crontab="", cron_daemon=""))
    assert all(argv[:2] == ("sudo", "-n") for argv in p.commands)
    assert p.commands[-1] == ("sudo", "-n", "systemctl", "enable", "--now", "cron")


def test_it_gives_the_exact_cron_install_command_when_sudo_needs_a_password() -> None:
    p = fixes.install_cron(facts(sudo="password", crontab="", cron_daemon=""))
    assert p.needed and p.commands == ()
    assert p.manual == "sudo apt-get install -y cron && sudo systemctl enable --now cron"


def test_it_gives_an_su_command_when_there_is_no_sudo() -> None:
    p = fixes.install_cron(facts(sudo="none", pkg="dnf", crontab="", cron_daemon=""))
    assert p.commands == ()
    assert p.manual == "su -c 'dnf install -y cronie && systemctl enable --now crond'"


def test_it_installs_cron_when_only_the_daemon_is_missing() -> None:
    assert fixes.install_cron(facts(cron_daemon="")).needed
    assert not fixes.install_cron(facts()).needed


def test_it_names_the_package_managers_it_knows_when_none_is_found() -> None:
    p = fixes.install_cron(facts(pkg="", crontab=""))
    assert p.commands == () and p.manual and "cron" in p.manual


@pytest.mark.parametrize(
    ("init", "daemon", "pkg", "argv"),
    [
        ("systemd", "/usr/sbin/cron", "apt-get", ("systemctl", "enable", "--now", "cron")),
        ("systemd", "/usr/sbin/crond", "dnf", ("systemctl", "enable", "--now", "crond")),
        ("init", "/usr/sbin/cron", "apt-get", ("service", "cron", "start")),
        ("init", "/usr/sbin/crond", "apk", ("rc-service", "crond", "start")),
        # No init system: the daemon by the name the facts found it under.
        ("process_api", "/usr/sbin/cron", "apt-get", ("cron",)),
        ("bash", "/usr/sbin/crond", "dnf", ("crond",)),
        ("tini", "/bin/busybox", "apk", ("busybox", "crond")),
    ],
)
def test_it_starts_cron_by_init_system(
    init: str, daemon: str, pkg: str, argv: tuple[str, ...]
) -> None:
    p = fixes.start_cron(
        facts(init=init, cron_daemon=daemon, pkg=pkg, cron_running="", sudo="root")
    )
    assert p.needed and p.commands[-1] == argv


def test_it_starts_cron_through_passwordless_sudo_without_init() -> None:
    p = fixes.start_cron(facts(init="process_api", cron_running=""))
    assert p.commands == (("sudo", "-n", "cron"),)


def test_it_gives_the_exact_start_command_when_sudo_needs_a_password() -> None:
    p = fixes.start_cron(facts(cron_running="", sudo="password"))
    assert p.commands == () and p.manual == "sudo systemctl enable --now cron"


def test_it_does_not_start_a_running_or_missing_cron() -> None:
    assert not fixes.start_cron(facts()).needed
    assert not fixes.start_cron(facts(cron_running="", crontab="")).needed


def test_every_action_names_the_banner_it_clears() -> None:
    assert set(fixes.BANNER_OF) == set(fixes.ACTIONS)
    with pytest.raises(ValueError, match="reconnect"):
        fixes.plan("reconnect", facts(), "x86_64")

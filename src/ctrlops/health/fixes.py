"""The banners' one-click fixes, as plans. Pure: facts in, argv lists and a manual command out.

A plan is what :func:`ctrlops.services.health.apply_fix` runs; it never runs anything
itself, so every distro / init system / sudo combination is unit-tested without a server.
A step that needs root runs as root directly, through ``sudo -n`` when the facts say sudo
needs no password, and otherwise becomes the exact command shown to the user.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ACTIONS = ("install-rclone", "install-cron", "start-cron", "reconnect", "redeploy")

# The banner each fix clears: after a fix its banner still showing means it failed.
BANNER_OF = {
    "install-rclone": "rclone_missing",
    "install-cron": "cron_missing",
    "start-cron": "cron_stopped",
    "reconnect": "shell_disconnected",
    "redeploy": "crontab_drift",
}
# Redeploy rewrites the crontab block and re-records the server's timezone for every job:
# it clears both banners.
REDEPLOY_CLEARS = ("crontab_drift", "timezone_changed")

_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}

# Package manager -> (cron package, init service name, daemon binary).
# SUSE's "cron" package is a meta package pulling cronie, whose daemon and unit are "cron";
# Alpine's busybox crond has no crontab without busybox-suid, dcron ships both.
_CRON = {
    "apt-get": ("cron", "cron", "cron"),
    "dnf": ("cronie", "crond", "crond"),
    "yum": ("cronie", "crond", "crond"),
    "zypper": ("cronie", "cron", "cron"),
    "apk": ("dcron", "crond", "crond"),
    "pacman": ("cronie", "cronie", "crond"),
}

# apt and zypper ask questions unless told not to; the env var survives sudo's env reset
# only as an argument of env(1).
_INSTALL = {
    "apt-get": ("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y"),
    "dnf": ("dnf", "install", "-y"),
    "yum": ("yum", "install", "-y"),
    "zypper": ("zypper", "--non-interactive", "install"),
    "apk": ("apk", "add"),
    "pacman": ("pacman", "-S", "--noconfirm", "--needed"),
}
# What a person types: the same install without the non-interactive plumbing.
_INSTALL_BY_HAND = {**_INSTALL, "apt-get": ("apt-get", "install", "-y")}


@dataclass(frozen=True)
class Plan:
    """What one fix needs on one server.

    ``needed`` is false when the banner's condition does not hold (running the fix
    changes nothing). ``commands`` are argv lists to run, privileges already applied;
    ``manual`` is the exact command for the user when ctrlops cannot run them itself.
    ``upload`` means: copy this machine's rclone to ``~/.ctrlops/bin/rclone``.
    """

    action: str
    needed: bool
    commands: tuple[tuple[str, ...], ...] = ()
    manual: str | None = None
    upload: bool = False
    reason: str = ""


def normalise_arch(arch: str) -> str:
    """Return the canonical name of a ``uname -m`` / ``platform.machine()`` value."""
    a = arch.strip().lower()
    return _ARCH.get(a, a)


def _privileged(
    facts: Mapping[str, Any],
    steps: list[tuple[str, ...]],
    by_hand: list[tuple[str, ...]],
    action: str,
    reason: str,
) -> Plan:
    """Wrap root-only ``steps`` by the user's sudo; without usable sudo, a manual plan."""
    sudo = facts.get("sudo")
    if sudo == "root":
        return Plan(action, True, tuple(steps), None, reason=reason)
    if sudo == "passwordless":
        return Plan(action, True, tuple(("sudo", "-n", *s) for s in steps), None, reason=reason)
    if sudo == "none":
        # No sudo at all: su asks for root's password, which only the user can type.
        why = "sudo is not installed"
        manual = shlex.join(("su", "-c", " && ".join(shlex.join(s) for s in by_hand)))
    else:
        why = "sudo asks for a password"
        manual = " && ".join(shlex.join(("sudo", *s)) for s in by_hand)
    return Plan(action, True, (), manual, reason=f"{reason}; needs root and {why}")


def _pkg(facts: Mapping[str, Any]) -> str | None:
    pkg = facts.get("pkg")
    return pkg if isinstance(pkg, str) and pkg in _INSTALL else None


def _unknown_pkg(action: str, what: str) -> Plan:
    return Plan(
        action,
        True,
        (),
        f"install {what} with your distribution's package manager",
        reason="no known package manager (apt-get, dnf, yum, zypper, apk, pacman) found",
    )


def _start_steps(facts: Mapping[str, Any], pkg: str | None) -> list[tuple[str, ...]]:
    """Argv lists that start (and enable at boot, where the init system can) cron."""
    _, service, daemon = _CRON.get(pkg or "", ("cron", "cron", "cron"))
    installed = str(facts.get("cron_daemon") or "")
    if installed:
        daemon = posixpath.basename(installed)
    init = str(facts.get("init") or "")
    if init == "systemd":
        return [("systemctl", "enable", "--now", service)]
    if init == "init" and pkg == "apk":  # Alpine: busybox init runs OpenRC
        return [("rc-update", "add", service, "default"), ("rc-service", service, "start")]
    if init in ("init", "sysvinit", "upstart"):
        return [("service", service, "start")]
    # No init system (a container's PID 1 is the app or a shim): start the daemon itself;
    # every cron daemon forks into the background by default.
    if daemon == "busybox":
        return [("busybox", "crond")]
    return [(daemon,)]


def install_cron(facts: Mapping[str, Any]) -> Plan:
    """Plan for "Install Cron": the distro's cron package, then start its service."""
    action = "install-cron"
    if facts.get("crontab") and facts.get("cron_daemon"):
        return Plan(action, False, reason="crontab and the cron daemon are installed")
    pkg = _pkg(facts)
    if pkg is None:
        return _unknown_pkg(action, "cron (cronie)")
    package = _CRON[pkg][0]
    steps = [(*_INSTALL[pkg], package), *_start_steps({**facts, "cron_daemon": ""}, pkg)]
    by_hand = [(*_INSTALL_BY_HAND[pkg], package), *steps[1:]]
    return _privileged(facts, steps, by_hand, action, f"install {package} with {pkg}")


def start_cron(facts: Mapping[str, Any]) -> Plan:
    """Plan for "Start Cron Service" (by init system; the daemon directly without one)."""
    action = "start-cron"
    if not (facts.get("crontab") and facts.get("cron_daemon")):
        return Plan(action, False, reason="cron is not installed: use install-cron")
    if facts.get("cron_running"):
        return Plan(action, False, reason=f"{facts['cron_running']} is running")
    steps = _start_steps(facts, _pkg(facts))
    init = facts.get("init") or "no init system"
    return _privileged(facts, steps, steps, action, f"start cron under {init}")


def rclone_ok(facts: Mapping[str, Any]) -> bool:
    """True when the runner finds an rclone that is new enough (no rclone banner)."""
    from ctrlops.health.probes import MIN_RCLONE, rclone_version

    if not facts.get("rclone"):
        return False
    version = rclone_version(str(facts.get("rclone_version") or ""))
    return version is None or version >= MIN_RCLONE


def install_rclone(facts: Mapping[str, Any], local_arch: str, local_os: str = "linux") -> Plan:
    """Plan for "Install Rclone".

    This machine's own rclone is uploaded when it can run there (same OS and architecture):
    no internet and no root needed on the server. Otherwise the package manager (as root),
    otherwise the exact command for the user.
    """
    action = "install-rclone"
    if rclone_ok(facts):
        return Plan(action, False, reason=f"{facts.get('rclone')} is usable")
    arch = normalise_arch(str(facts.get("arch") or ""))
    if local_os == "linux" and arch and arch == normalise_arch(local_arch):
        return Plan(action, True, upload=True, reason=f"upload this machine's rclone ({arch})")
    pkg = _pkg(facts)
    if pkg is None:
        return _unknown_pkg(action, "rclone")
    steps = [(*_INSTALL[pkg], "rclone")]
    by_hand = [(*_INSTALL_BY_HAND[pkg], "rclone")]
    reason = f"server is {arch or 'unknown'}, this machine {normalise_arch(local_arch)}"
    return _privileged(facts, steps, by_hand, action, f"{reason}: install rclone with {pkg}")


def plan(action: str, facts: Mapping[str, Any], local_arch: str, local_os: str = "linux") -> Plan:
    """Return the plan for ``action`` (one of :data:`ACTIONS` but reconnect); ValueError else."""
    if action == "install-rclone":
        return install_rclone(facts, local_arch, local_os)
    if action == "install-cron":
        return install_cron(facts)
    if action == "start-cron":
        return start_cron(facts)
    raise ValueError(f"no plan for {action!r}")

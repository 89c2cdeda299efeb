"""Basic facts about a server, gathered by ONE fixed POSIX sh script in one round trip.

The facts feed ``server check`` (OS, arch, user, home, passwordless sudo, timezone) and
the health banners (rclone in cron's PATH, cron installed and running, runner version,
disk space, clock). Nothing user-supplied is part of the script.
"""

from __future__ import annotations

import time
from typing import Any

from ctrlops.remote.base import Remote
from ctrlops.remote.exec import execute
from ctrlops.runner.layout import CRON_PATH, RCLONE, RUNNER

# Every line printed is key=value; a probe that fails prints an empty value, never aborts.
FACTS_SCRIPT = (
    r"""
say() { printf '%s=%s\n' "$1" "$2"; }
os=""; os_id=""; os_like=""
if [ -r /etc/os-release ]; then
  os=$(. /etc/os-release && printf '%s' "${PRETTY_NAME:-$NAME}")
  os_id=$(. /etc/os-release && printf '%s' "${ID:-}")
  os_like=$(. /etc/os-release && printf '%s' "${ID_LIKE:-}")
fi
say os "$os"; say os_id "$os_id"; say os_like "$os_like"
say arch "$(uname -m 2>/dev/null)"
say kernel "$(uname -r 2>/dev/null)"
say hostname "$(uname -n 2>/dev/null)"
say user "$(id -un 2>/dev/null)"
say uid "$(id -u 2>/dev/null)"
say home "$HOME"
say shell "${SHELL:-}"
if [ "$(id -u)" = 0 ]; then say sudo root
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then say sudo passwordless
elif command -v sudo >/dev/null 2>&1; then say sudo password
else say sudo none; fi
# The zone cron fires in is the rules in /etc/localtime (the cron daemon has no TZ), so a
# name is taken only when its zoneinfo file has those exact bytes: /etc/timezone and the
# symlink's target can be stale. timedatectl is not asked: it needs systemd and D-Bus.
lt=/etc/localtime zi=/usr/share/zoneinfo tz="" etc_tz="" link=""
[ -r /etc/timezone ] && etc_tz=$(head -n1 /etc/timezone | tr -d ' \t')
[ -L "$lt" ] && link=$(readlink "$lt" | sed 's|.*zoneinfo/||')
if [ -r "$lt" ] && command -v cmp >/dev/null 2>&1; then
  for c in "$etc_tz" "$link"; do
    [ -n "$c" ] && [ -f "$zi/$c" ] && cmp -s "$lt" "$zi/$c" && { tz=$c; break; }
  done
  if [ -z "$tz" ] && [ -d "$zi" ]; then
    size=$(wc -c < "$lt" | tr -d ' ')
    tz=$(find "$zi" -type f -size "${size}c" ! -path '*/posix/*' ! -path '*/right/*' \
      2>/dev/null | sort | while read -r f; do
        cmp -s "$lt" "$f" && { printf '%s' "${f#"$zi"/}"; break; }
      done)
  fi
fi
[ -n "$tz" ] || tz=$link
[ -n "$tz" ] || tz=$etc_tz
say timezone "${tz:-${TZ:-UTC}}"
say utc_offset "$(date +%z)"
say epoch "$(date +%s)"
say uptime "$(cut -d' ' -f1 /proc/uptime 2>/dev/null)"
say init "$(cat /proc/1/comm 2>/dev/null)"
vendor=$(cat /sys/class/dmi/id/sys_vendor /sys/class/dmi/id/bios_vendor 2>/dev/null | tr '\n' ' ')
say vendor "$vendor"
for pm in apt-get dnf yum zypper apk pacman; do
  if command -v "$pm" >/dev/null 2>&1; then say pkg "$pm"; break; fi
done
if [ -x "$HOME/"""
    + RCLONE
    + r"""" ]; then rc="$HOME/"""
    + RCLONE
    + r""""; else rc=$(PATH="""
    + CRON_PATH
    + r""" command -v rclone 2>/dev/null); fi
say rclone "$rc"
# `rclone version` costs ~0.1 s of CPU (a large Go binary starting): its answer is kept
# per binary (path, size, mtime, ctime in ns, inode), asked again when the binary changes.
if [ -n "$rc" ]; then
  key=$(stat -L -c '%n %s %.9Y %.9Z %i' "$rc" 2>/dev/null) vc="$HOME/.ctrlops/cache/rclone-version"
  v=""
  [ -n "$key" ] && [ -r "$vc" ] && [ "$(sed -n 1p "$vc")" = "$key" ] && v=$(sed -n 2p "$vc")
  if [ -z "$v" ]; then
    v=$("$rc" version 2>/dev/null | head -n1)
    if [ -n "$v" ] && [ -n "$key" ] && [ -d "$HOME/.ctrlops" ]; then
      mkdir -p "$HOME/.ctrlops/cache" 2>/dev/null &&
        printf '%s\n%s\n' "$key" "$v" > "$vc.$$" 2>/dev/null && mv -f "$vc.$$" "$vc" 2>/dev/null
      rm -f "$vc.$$" 2>/dev/null
    fi
  fi
  say rclone_version "$v"
fi
say login_rclone "$(command -v rclone 2>/dev/null)"
say crontab "$(PATH="""
    + CRON_PATH
    + r""" command -v crontab 2>/dev/null)"
for d in cron crond cronie busybox; do
  p=$(PATH="""
    + CRON_PATH
    + r""" command -v "$d" 2>/dev/null) && { say cron_daemon "$p"; break; }
done
running=""
for n in cron crond; do
  if command -v pgrep >/dev/null 2>&1; then
    pgrep -x "$n" >/dev/null 2>&1 && running=$n
  else
    for c in /proc/[0-9]*/comm; do [ "$(cat "$c" 2>/dev/null)" = "$n" ] && running=$n; done
  fi
  [ -n "$running" ] && break
done
say cron_running "$running"
say runner_version "$(sed -n '2s/^# ctrlops-run version //p' "$HOME/"""
    + RUNNER
    + r"""" 2>/dev/null)"
d="$HOME/.ctrlops"; [ -d "$d" ] || d="$HOME"
df=$(df -Pk "$d" 2>/dev/null | awk 'NR==2 {sub("%","",$5); print $2, $4, $5, $6}')
say disk_size_kb "$(echo "$df" | cut -d' ' -f1)"
say disk_free_kb "$(echo "$df" | cut -d' ' -f2)"
say disk_used_pct "$(echo "$df" | cut -d' ' -f3)"
say disk_mount "$(echo "$df" | cut -d' ' -f4-)"
"""
)

_INTS = ("uid", "epoch", "disk_size_kb", "disk_free_kb", "disk_used_pct", "runner_version")


def parse(text: str) -> dict[str, Any]:
    """Return the facts printed by :data:`FACTS_SCRIPT` (ints where they are numbers)."""
    facts: dict[str, Any] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or not key.isidentifier():
            continue
        facts[key] = value.strip()
    for key in _INTS:
        try:
            facts[key] = int(facts[key])
        except (KeyError, ValueError):
            facts[key] = None
    try:
        facts["uptime"] = float(facts.get("uptime") or "")
    except ValueError:
        facts["uptime"] = None
    facts["cloud"] = cloud_of(str(facts.get("vendor", "")))
    return facts


def cloud_of(vendor: str) -> str | None:
    v = vendor.lower()
    for needle, cloud in (
        ("amazon", "aws"),
        ("google", "gcp"),
        ("microsoft", "azure"),
        ("digitalocean", "digitalocean"),
    ):
        if needle in v:
            return cloud
    return None


async def gather(remote: Remote, timeout: float = 20.0) -> dict[str, Any]:
    """Run the facts script on ``remote``; return the facts plus the clock offset.

    ``clock_offset`` is the server's clock minus this machine's, in seconds (the round
    trip bounds its error). Raises :class:`RemoteCommandError` when the shell is unusable.
    """
    before = time.time()
    result = await execute(
        remote,
        ["sh", "-c", FACTS_SCRIPT],
        timeout=timeout,
        fix="the user's login shell must be able to run /bin/sh (not nologin, no ForceCommand)",
    )
    after = time.time()
    facts = parse(result.stdout)
    if facts["epoch"] is not None:
        # `date +%s` truncates: the server's clock read somewhere in [epoch, epoch + 1).
        facts["clock_offset"] = round(facts["epoch"] + 0.5 - (before + after) / 2)
        facts["clock_error"] = round((after - before) / 2 + 0.5, 1)  # what bounds it
    return facts

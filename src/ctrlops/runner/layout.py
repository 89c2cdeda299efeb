"""The on-server contract: where things live under the remote user's home.

Paths are relative to ``$HOME`` of the remote user; code that builds shell scripts uses
``$HOME/`` + these, code that writes files through ``remote.exec.write_file`` uses ``~/``.
"""

from __future__ import annotations

ROOT = ".ctrlops"
BIN = f"{ROOT}/bin"
RUNNER = f"{BIN}/ctrlops-run"
RCLONE = f"{BIN}/rclone"  # uploaded by "Install Rclone" when no system rclone fits
JOBS = f"{ROOT}/jobs"
TMP = f"{ROOT}/tmp"  # noqa: S108 (under the user's home, not /tmp)

# The PATH the runner's crontab line sets: cron's own PATH is minimal (/usr/bin:/bin),
# a classic reason for "it works by hand but not from cron".
CRON_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# POSIX sh: prints the rclone the runner will use, the one ctrlops installed first.
FIND_RCLONE = (
    'if [ -x "$HOME/' + RCLONE + '" ]; then echo "$HOME/' + RCLONE + '"; '
    "else PATH=" + CRON_PATH + " command -v rclone; fi"
)


def job_dir(job_id: str) -> str:
    return f"{JOBS}/{job_id}"

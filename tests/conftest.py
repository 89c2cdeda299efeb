"""Test bed: real sshd, real S3 (SeaweedFS), real rclone, real cron, all on loopback."""

pytest_plugins = [
    "tests.support.s3",
    "tests.support.sshd",
    "tests.support.home",
    "tests.support.users",
    "tests.support.jobs",
    "tests.support.fake_ai",
]

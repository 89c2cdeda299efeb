"""Pure argv builders for rclone; no I/O here, so their tests need none.

Every command reads its remote from ``--config PATH`` (a 0600 file: the secret is never
on a command line), is bounded by ``--contimeout``/``--timeout`` and retries at most once,
so a hanging endpoint ends in an error line instead of a hang. Remote paths come after
``--``, so no value can ever be read as a flag.
"""

from __future__ import annotations

Argv = tuple[str, ...]


def _duration(seconds: float) -> str:
    """Return ``seconds`` as a Go duration (``2.5s``), at least one second."""
    return f"{max(1.0, seconds):g}s"


def global_flags(config: str, *, timeout: float) -> Argv:
    """Return the flags every Test Connection command carries.

    One attempt may take up to ``timeout / 4`` to connect and ``timeout / 4`` without an
    answer; rclone may try twice, so a hanging endpoint is reported well within ``timeout``.
    """
    if not config.startswith("/"):
        raise ValueError("config must be an absolute path")
    return (
        "--config", config,
        "--contimeout", _duration(min(timeout / 4, 10.0)),
        "--timeout", _duration(timeout / 4),
        "--retries", "1",
        "--low-level-retries", "1",
        "--ask-password=false",
    )  # fmt: skip


def _remote(path: str) -> str:
    # A path must name a remote ("dest:..."): never a local path, never a flag.
    name, sep, _ = path.partition(":")
    if not sep or not name or name.startswith("-") or "/" in name:
        raise ValueError(f"not an rclone remote path: {path!r}")
    return path


def list_buckets(rclone: str, config: str, *, timeout: float) -> Argv:
    """Return argv listing the buckets of remote ``dest`` (reaches the endpoint, signs)."""
    return (rclone, "lsf", *global_flags(config, timeout=timeout), "--max-depth", "1", "--",
            "dest:")  # fmt: skip


def list_dir(rclone: str, config: str, path: str, *, timeout: float) -> Argv:
    """Return argv listing one level of ``path`` (``dest:bucket[/prefix]``)."""
    return (rclone, "lsf", *global_flags(config, timeout=timeout), "--max-depth", "1", "--",
            _remote(path))  # fmt: skip


def write_stdin(rclone: str, config: str, path: str, *, timeout: float) -> Argv:
    """Return argv that stores its standard input as the object ``path``."""
    return (rclone, "rcat", *global_flags(config, timeout=timeout), "--", _remote(path))


def read(rclone: str, config: str, path: str, *, timeout: float) -> Argv:
    """Return argv that prints the object ``path`` to standard output."""
    return (rclone, "cat", *global_flags(config, timeout=timeout), "--", _remote(path))


def delete(rclone: str, config: str, path: str, *, timeout: float) -> Argv:
    """Return argv that deletes the single object ``path``."""
    return (rclone, "deletefile", *global_flags(config, timeout=timeout), "--", _remote(path))

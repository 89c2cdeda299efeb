"""What ctrlops adds to a backup, against the bare rclone command it runs, in one process.

Backs a generated tree (10,000 small files + 3 large ones) up to a local S3 (SeaweedFS on
loopback) three ways, alternating their order across repetitions:

- ctrlops: ``jobs.run_now(name, wait=True)`` on this machine registered ``--local``
  (runner, run record, status polling, log diagnosis included);
- bare: the same ``rclone copy`` with the flags the runner passes, to another bucket;
- defaults: the same ``rclone copy`` with rclone's default concurrency (transfers 4,
  checkers 8, no --fast-list), to a third bucket.

Each repetition does a first (full) run and a second (unchanged) run. Prints medians,
ctrlops/bare per phase and defaults/ctrlops-flags per phase. Usage:

    .venv/bin/python bench/backup_overhead.py [--reps 3] [--small 10000] [--big 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

RCLONE = Path(sys.executable).parent / "rclone"
VARIANTS = ("ctrlops", "bare", "defaults")
PHASES = ("full", "unchanged")

# A stand-in for `crontab` on this machine: a job without a schedule still rewrites the
# managed crontab block, and the real one belongs to root (and maybe to a demo).
FAKE_CRONTAB = """#!/bin/sh
f="$CTRLOPS_BENCH_CRONTAB"
case "$1" in
-l) [ -f "$f" ] && exec cat "$f"; exit 1 ;;
-) exec cat >"$f" ;;
*) exit 1 ;;
esac
"""


def make_tree(root: Path, small: int, big: int, big_mib: int) -> int:
    """Write the tree; return its number of files. Same bytes every time (seeded)."""
    rng = random.Random(20240601)
    for i in range(small):
        d = root / f"d{i // 100:03d}"
        if i % 100 == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}.bin").write_bytes(rng.randbytes(rng.randint(1024, 8192)))
    for i in range(big):
        with (root / f"big{i}.bin").open("wb") as f:
            for _ in range(big_mib):
                f.write(rng.randbytes(1 << 20))
    return small + big


def setup_env(tmp: Path) -> None:
    """Point ctrlops and "this machine" at the temp dir (before ctrlops is imported)."""
    shim = tmp / "shim"
    shim.mkdir()
    (shim / "crontab").write_text(FAKE_CRONTAB)
    (shim / "crontab").chmod(0o755)
    home = tmp / "server-home"
    (home / ".ctrlops" / "bin").mkdir(parents=True)
    # The runner prefers ~/.ctrlops/bin/rclone: the same binary the bare runs use.
    (home / ".ctrlops" / "bin" / "rclone").symlink_to(RCLONE)
    os.environ.update(
        CTRLOPS_HOME=str(tmp / "ctrlops-home"),
        HOME=str(home),
        PATH=f"{shim}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        CTRLOPS_BENCH_CRONTAB=str(tmp / "crontab.txt"),
    )
    os.environ.pop("CTRLOPS_DATABASE_URL", None)


def arun(coro: Coroutine[Any, Any, Any]) -> Any:
    from ctrlops.services import servers

    async def main() -> Any:
        try:
            return await coro
        finally:
            await servers.close_all()

    return asyncio.run(main())


def rclone_elapsed(log: Path) -> float | None:
    """rclone's own elapsed time: the last stats line of its JSON log."""
    elapsed = None
    for line in log.read_text(errors="replace").splitlines():
        try:
            stats = json.loads(line).get("stats")
        except ValueError:
            continue
        if stats:
            elapsed = float(stats["elapsedTime"])
    return elapsed


class Bench:
    def __init__(self, tmp: Path, tree: Path, files: int) -> None:
        from ctrlops.embedded.s3 import LocalS3

        self.tmp, self.tree, self.files = tmp, tree, files
        self.s3 = LocalS3(tmp / "s3").start(timeout=120)
        self.times: dict[tuple[str, str], list[float]] = {}
        self.inner: list[float] = []  # rclone's own elapsed inside the ctrlops runs

    def setup(self) -> None:
        from ctrlops.rclone.providers import DestinationSpec, rclone_config
        from ctrlops.server.spec import parse_spec
        from ctrlops.services import destinations, servers

        for bucket in VARIANTS:
            self.s3.make_bucket(bucket)
        servers.add(parse_spec(name="this-machine", local=True))
        spec = DestinationSpec(
            name="bench-s3",
            provider="minio",
            bucket="ctrlops",
            endpoint=self.s3.endpoint,
            access_key_id=self.s3.rw.access_key_id,
        )
        destinations.add(spec, self.s3.rw.secret_access_key)
        # The very remote config the job gets, for the bare runs.
        self.conf = self.tmp / "rclone.conf"
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(rclone_config(spec, self.s3.rw.secret_access_key, "dest"))
        self.excludes = self.tmp / "excludes"
        self.excludes.write_text("")  # the runner always passes its (empty) excludes file

    def add_job(self, rep: int) -> dict[str, Any]:
        from ctrlops.services import jobs

        info = jobs.spec(
            f"bench-{rep}",
            server="this-machine",
            sources=[str(self.tree)],
            dest="bench-s3",
            prefix=f"rep{rep}",
        )
        arun(jobs.add(info))
        files = jobs._files(jobs.get(info.name), "ctrlops", "")
        return {
            "transfers": files.transfers,
            "checkers": files.checkers,
            "fast_list": files.fast_list,
            "stats": files.stats_interval,
        }

    def bare_argv(self, variant: str, rep: int, phase: str, flags: dict[str, Any]) -> list[str]:
        log = self.tmp / "logs" / f"{variant}-{rep}-{phase}.log"
        log.parent.mkdir(exist_ok=True)
        argv = [
            str(RCLONE),
            "copy",
            str(self.tree),
            f"dest:{variant}/rep{rep}/current{self.tree}",
            "--config",
            str(self.conf),
            "--use-json-log",
            "--log-level",
            "INFO",
            "--stats",
            flags["stats"],
            "--stats-log-level",
            "NOTICE",
            "--log-file",
            str(log),
            "--exclude-from",
            str(self.excludes),
        ]
        if variant == "bare":
            argv += ["--transfers", str(flags["transfers"]), "--checkers", str(flags["checkers"])]
            if flags["fast_list"]:
                argv.append("--fast-list")
        return argv

    def one(self, variant: str, rep: int, phase: str, flags: dict[str, Any]) -> float:
        if variant == "ctrlops":
            from ctrlops.services import jobs

            async def timed() -> tuple[float, dict[str, Any]]:
                t0 = time.perf_counter()
                r = await jobs.run_now(f"bench-{rep}", wait=True)
                return time.perf_counter() - t0, r

            result: tuple[float, dict[str, Any]] = arun(timed())
            took, r = result
            want = self.files if phase == "full" else 0
            if r["state"] not in ("success", "success, nothing copied") or (
                r["files_transferred"] != want
            ):
                raise SystemExit(f"ctrlops run went wrong: {r}")
            if r.get("elapsed") is not None:
                self.inner.append(float(r["elapsed"]))
        else:
            argv = self.bare_argv(variant, rep, phase, flags)
            t0 = time.perf_counter()
            subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
            took = time.perf_counter() - t0
        self.times.setdefault((variant, phase), []).append(took)
        print(f"  rep {rep} {phase:9} {variant:8} {took:7.2f} s", flush=True)
        return took

    def stop(self) -> None:
        self.s3.stop()


def median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def report(b: Bench, flags: dict[str, Any], reps: int) -> None:
    print()
    print(f"tree: {b.files} files; {reps} repetitions, order rotated; medians in seconds")
    print(
        f"ctrlops flags: --transfers {flags['transfers']} --checkers {flags['checkers']}"
        + (" --fast-list" if flags["fast_list"] else "")
    )
    print()
    print(f"{'phase':10} {'ctrlops':>9} {'bare':>9} {'ctrlops/bare':>13} {'overhead':>9}")
    for phase in PHASES:
        c, r = median(b.times[("ctrlops", phase)]), median(b.times[("bare", phase)])
        print(f"{phase:10} {c:9.2f} {r:9.2f} {c / r:13.3f} {c - r:+8.2f}s")
    print()
    print(f"{'phase':10} {'defaults':>9} {'ctrlops-flags':>14} {'defaults/flags':>15}")
    for phase in PHASES:
        d, r = median(b.times[("defaults", phase)]), median(b.times[("bare", phase)])
        print(f"{phase:10} {d:9.2f} {r:14.2f} {d / r:15.3f}")
    if b.inner:
        print()
        print(
            f"rclone's own elapsed inside the ctrlops runs (median of all): {median(b.inner):.2f} s"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--small", type=int, default=10_000, help="small files (1-8 KiB)")
    ap.add_argument("--big", type=int, default=3, help="large files")
    ap.add_argument("--big-mib", type=int, default=20, help="size of each large file")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ctrlops-bench-"))
    tmp.chmod(0o755)
    bench: Bench | None = None
    try:
        setup_env(tmp)
        tree = tmp / "tree"
        t0 = time.perf_counter()
        files = make_tree(tree, args.small, args.big, args.big_mib)
        print(f"generated {files} files in {time.perf_counter() - t0:.1f} s", flush=True)
        bench = Bench(tmp, tree, files)
        bench.setup()
        flags: dict[str, Any] = {}
        for rep in range(args.reps):
            flags = bench.add_job(rep)
            k = rep % len(VARIANTS)
            order = VARIANTS[k:] + VARIANTS[:k]
            for phase in PHASES:
                for variant in order:
                    bench.one(variant, rep, phase, flags)
        report(bench, flags, args.reps)
    finally:
        if bench is not None:
            bench.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

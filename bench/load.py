"""Load: 200 jobs on one server and 50 servers in one control plane; time, memory, SSH.

Two scenarios on loopback, each with its own login user, sshd daemons, local S3
(SeaweedFS) and ``CTRLOPS_HOME``:

- A, one server with many jobs (200 by default), each backing up its own small directory
  on a schedule that does not fire (1 January). Phases: add all (``jobs.add`` each, one
  after the other), deploy-all (``jobs.redeploy_server``), check-all (``servers.check_all``),
  then run history is made -- one real run (``jobs.run_now``) gives a run record and log
  in the runner's own format, and that record is planted RUNS times (50) into every job's
  ``runs/`` -- then sync-all cold (store emptied of runs) and warm (nothing new), and
  check-all again with the history in the store.
- B, many servers (50): ports of real sshd daemons (16 per daemon) logging in as one
  user, 2 manual-only jobs each (one user's crontab cannot hold 50 servers' blocks), the
  same phases; add-all and deploy-all go over the servers 16 at a time.

Every timed phase runs in a fresh Python process, so its peak resident memory is that
phase's alone: the kernel's high-water mark VmHWM (``/proc/self/status``), reset through
``/proc/self/clear_refs`` after the imports and opening the store, so "growth" is the
peak minus the RSS right before the phase. Not ``ru_maxrss``: in a child forked from a
big parent it starts at the parent's RSS (the kernel keeps the pre-exec peak). SSH
connections are counted from the sshd logs ("Accepted publickey" lines). CPU is the phase
process's own user + system time: the control plane's cost, which the wall time mixes with
that of sshd and the server's shells (on loopback they share the same CPUs). Planted logs are
the real run's log with its head padded to --log-kib by repeating its own INFO lines
(object names changed), hard-linked into every run directory: every run's log is that
big on the server while the disk holds one copy.

Needs root (creates, then deletes, the users ``ctrlops-load-a`` and ``ctrlops-load-b``).

    .venv/bin/python bench/load.py [--jobs 200] [--runs 50] [--servers 50] [--reps 3]
                                   [--log-kib 1024] [--only a|b] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RCLONE = Path(sys.executable).parent / "rclone"
PER_SSHD = 16  # one sshd listens on at most 16 sockets
GATE = 16  # servers deployed at once in a fleet deploy (sync.CONCURRENCY does the same)
NEVER_SOON = "0 0 1 1 *"  # scheduled (a crontab line per job), but fires on 1 January only
FIRST_RUN = datetime(2020, 1, 1, tzinfo=UTC)  # planted runs are older than any real one
OVER_LIMIT = 3  # exit status of a phase whose memory grew past --limit-mb

# ---- run history in the runner's on-server format ---------------------------------------


def pad_log(real: Path, out: Path, size: int) -> None:
    """Write ``real`` (an rclone JSON log) to ``out`` with its head padded to ``size`` bytes.

    The padding repeats the real log's own INFO lines, each object under a new directory,
    so the file reads as a long run of many files; the real lines come last, so the tail
    (the final stats) is the real run's.
    """
    lines = real.read_bytes().splitlines(keepends=True)
    body = b"".join(lines)
    pad = [ln for ln in lines if b'"level":"info"' in ln] or lines
    with out.open("wb") as f:
        written, n = 0, 0
        while written + len(body) < size:
            line = pad[n % len(pad)].replace(b'"object":"', b'"object":"d%06d/' % n, 1)
            f.write(line)
            written += len(line)
            n += 1
        f.write(body)


@dataclass(frozen=True)
class Template:
    """A finished run's status record as the runner wrote it, to plant copies of."""

    status: dict[str, str]

    @classmethod
    def read(cls, run_dir: Path) -> Template:
        status: dict[str, str] = {}
        for line in (run_dir / "status").read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                status[key] = value
        return cls(status)

    def render(self, started: datetime, pid: int) -> str:
        fields = {
            **self.status,
            "pid": str(pid),
            "pgid": str(pid),
            "started": f"{started:%Y-%m-%dT%H:%M:%SZ}",
            "finished": f"{started + timedelta(seconds=30):%Y-%m-%dT%H:%M:%SZ}",
        }
        return "".join(f"{k}={v}\n" for k, v in fields.items())


def plant_runs(
    job_dir: Path, template: Template, log: Path, count: int, owner: tuple[int, int]
) -> list[str]:
    """Create ``count`` finished runs under ``job_dir/runs``, older than any real run.

    Each gets its own status file and a hard link to ``log`` (same file system), owned by
    ``owner`` (uid, gid) and private, as the runner makes them. Returns the run ids.
    """
    ids: list[str] = []
    for k in range(count):
        started = FIRST_RUN + timedelta(minutes=k)
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{10000 + k}"
        d = job_dir / "runs" / run_id
        d.mkdir(mode=0o700)
        (d / "status").write_text(template.render(started, 10000 + k))
        (d / "status").chmod(0o600)
        os.link(log, d / "rclone.log")
        for p in (d, d / "status"):
            os.lchown(p, *owner)
        ids.append(run_id)
    return ids


def accepted(logs: list[Path]) -> int:
    """SSH logins so far, from sshd logs written at LogLevel VERBOSE."""
    return sum(p.read_text(errors="replace").count("Accepted publickey") for p in logs)


# ---- one timed phase, in a fresh process ----------------------------------------------


async def _gated(items: list[str], gate: int, fn: Callable[[str], Awaitable[Any]]) -> list[Any]:
    """``fn`` over ``items``, at most ``gate`` at a time (as ``sync.sync_all`` does)."""
    sem = asyncio.Semaphore(gate)

    async def one(item: str) -> Any:
        async with sem:
            return await fn(item)

    return list(await asyncio.gather(*(one(i) for i in items)))


async def _phase(phase: str, spec: dict[str, Any]) -> dict[str, Any]:
    from ctrlops.services import jobs, servers, sync

    if phase == "add":
        by_server: dict[str, list[dict[str, Any]]] = {}
        for j in spec["jobs"]:
            by_server.setdefault(j["server"], []).append(j)

        async def add_all(server: str) -> int:
            for j in by_server[server]:
                info = jobs.spec(
                    j["name"],
                    server=server,
                    sources=j["sources"],
                    dest=j["dest"],
                    schedule_expr=j.get("schedule"),
                )
                await jobs.add(info)
            return len(by_server[server])

        done = await _gated(list(by_server), GATE, add_all)
        return {"n": sum(done), "ok": sum(done)}
    if phase == "deploy":
        names = [s.name for s in servers.list_all()]
        deployed = await _gated(names, GATE, jobs.redeploy_server)
        return {"n": len(names), "ok": len(names), "jobs": sum(len(d) for d in deployed)}
    if phase == "check":
        checks = await servers.check_all()
        bad = [c for c in checks if not c["ok"]]
        return {"n": len(checks), "ok": len(checks) - len(bad), "bad": bad[:1]}
    if phase in ("sync-cold", "sync-warm"):
        synced = await sync.sync_all()
        bad = [s.as_dict() for s in synced if not s.ok]
        runs_read = sum(s.runs_read for s in synced)
        return {"n": len(synced), "ok": len(synced) - len(bad), "bad": bad[:1], "runs": runs_read}
    raise SystemExit(f"unknown phase {phase!r}")


def peak_kb() -> int:
    """This process's peak resident memory in KiB: the kernel's high-water mark (VmHWM).

    Not ``ru_maxrss``: after fork + exec it keeps the pre-exec peak, so a child of a
    300 MB parent reports 300 MB before doing anything.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cpu_seconds() -> float:
    """CPU time (user + system) this process has used: the control plane's own cost of a
    phase, which wall time hides when sshd and the shells on the server share the CPUs."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _reset_peak() -> int:
    """Return the peak RSS in KiB, reset first to the current RSS where Linux allows it:
    importing and compiling modules leaves a transient peak that would hide a phase's own
    growth below it."""
    gc.collect()
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak RSS
    return peak_kb()


def _watchdog(base_kb: int, limit_mb: float) -> None:
    """Exit at once (status 3) when the peak grows past ``limit_mb`` over ``base_kb``: a
    phase that lost its memory bound fails in seconds instead of swapping for minutes."""

    def watch() -> None:
        while True:
            grown = peak_kb() - base_kb
            if grown > limit_mb * 1024:
                print(
                    f"peak RSS grew {grown / 1024:.0f} MB (bound {limit_mb:g} MB)", file=sys.stderr
                )
                sys.stderr.flush()
                os._exit(OVER_LIMIT)
            time.sleep(0.02)

    threading.Thread(target=watch, daemon=True).start()


def child(phase: str, spec_path: str, limit_mb: float | None = None) -> None:
    """Run one phase and print ``{"seconds", "cpu", "base_kb", "peak_kb", ...}`` as JSON."""
    from sqlalchemy import delete

    from ctrlops.diagnose import report  # noqa: F401  (imported before the baseline)
    from ctrlops.services import servers, sync  # noqa: F401
    from ctrlops.store.db import session
    from ctrlops.store.models import Run

    spec = json.loads(Path(spec_path).read_text()) if spec_path else {}
    servers.list_all()  # the store is opened (and migrated) before the baseline
    if phase == "sync-cold":
        with session() as s:
            s.execute(delete(Run))
    base = _reset_peak()
    if limit_mb is not None:
        _watchdog(base, limit_mb)

    async def main() -> dict[str, Any]:
        try:
            return await _phase(phase, spec)
        finally:
            await servers.close_all()

    t0, cpu0 = time.perf_counter(), cpu_seconds()
    out = asyncio.run(main())
    took, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    peak = peak_kb()
    print(
        json.dumps(
            {"phase": phase, "seconds": took, "cpu": cpu, "base_kb": base, "peak_kb": peak, **out}
        )
    )


def measure(
    phase: str,
    env: dict[str, str],
    spec: dict[str, Any] | None = None,
    tmp: Path | None = None,
    *,
    limit_mb: float | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run ``phase`` in a new process with ``env``; return its JSON.

    With ``limit_mb`` the process stops as soon as its peak RSS grows more than that over
    its baseline. Raises RuntimeError when the phase failed, a server in it failed, or it
    went over the limit.
    """
    spec_path = ""
    if spec is not None:
        assert tmp is not None
        spec_file = tmp / f"spec-{phase}.json"
        spec_file.write_text(json.dumps(spec))
        spec_path = str(spec_file)
    argv = [sys.executable, "-m", "bench.load", "--child", phase, "--spec", spec_path]
    if limit_mb is not None:
        argv += ["--limit-mb", str(limit_mb)]
    r = subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )
    if r.returncode == OVER_LIMIT:
        raise RuntimeError(f"phase {phase} lost its memory bound: {r.stderr.strip()}")
    if r.returncode != 0:
        raise RuntimeError(f"phase {phase} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    if result["ok"] != result["n"]:
        raise RuntimeError(f"phase {phase}: {result['n'] - result['ok']} failed: {result}")
    return result


# ---- the bench ---------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    phase: str
    size: str
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    growth_mb: list[float] = field(default_factory=list)
    ssh: list[int] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)


class Scenario:
    """One login user, its sshd daemons, an S3, a store; ``n_servers`` server entries."""

    def __init__(self, key: str, tmp: Path) -> None:
        from ctrlops.embedded.s3 import LocalS3

        self.key, self.user = key, f"ctrlops-load-{key}"
        self.tmp = tmp / key
        self.tmp.mkdir()
        self.tmp.chmod(0o755)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.s3: LocalS3 | None = None

    def start(self, n_servers: int) -> None:
        """Create the user, start the sshd daemons and the S3 (``stop`` undoes it all)."""
        import pwd

        from tests.support.sshd import authorize, ensure_user, free_port, keygen, start_sshd

        from ctrlops.embedded.s3 import LocalS3

        self.home = ensure_user(self.user)
        pw = pwd.getpwnam(self.user)
        self.owner = (pw.pw_uid, pw.pw_gid)
        self.ssh_key = keygen(self.tmp / "id_ed25519")
        authorize(self.user, self.home, (self.tmp / "id_ed25519.pub").read_text(), None)
        ports: list[int] = []
        while len(ports) < n_servers:
            p = free_port()
            if p not in ports:
                ports.append(p)
        self.ports = ports
        for i in range(0, n_servers, PER_SSHD):
            work = self.tmp / f"sshd{i // PER_SSHD}"
            work.mkdir()
            work.chmod(0o755)
            proc, log, _ = start_sshd(work, ports[i : i + PER_SSHD], None)
            self.procs.append(proc)
            self.logs.append(log)
        # rclone where the runner looks first, as "Install Rclone" puts it.
        bin_dir = self.home / ".ctrlops" / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(RCLONE, bin_dir / "rclone")
        self.chown(self.home / ".ctrlops")
        self.s3 = LocalS3(self.tmp / "s3").start(timeout=120)
        self.s3.make_bucket("load")
        self.env = {
            **os.environ,
            "CTRLOPS_HOME": str(self.tmp / "ctrlops-home"),
            "CTRLOPS_CONNECT_TIMEOUT": "60",
        }
        self.env.pop("CTRLOPS_DATABASE_URL", None)

    def chown(self, path: Path) -> None:
        for p in [path, *path.rglob("*")]:
            os.lchown(p, *self.owner)

    def register(self) -> None:
        """Servers and the destination in this scenario's store (nothing contacted)."""
        from ctrlops.rclone.providers import DestinationSpec
        from ctrlops.server.spec import parse_spec
        from ctrlops.services import destinations, servers

        assert self.s3 is not None
        os.environ["CTRLOPS_HOME"] = self.env["CTRLOPS_HOME"]
        for i, port in enumerate(self.ports):
            spec = parse_spec(
                name=self.server(i), host="127.0.0.1", port=port, user=self.user,
                key=str(self.ssh_key),
            )  # fmt: skip
            servers.add(spec)
        spec_d = DestinationSpec(
            name="store",
            provider="minio",
            bucket="load",
            endpoint=self.s3.endpoint,
            access_key_id=self.s3.rw.access_key_id,
        )
        destinations.add(spec_d, self.s3.rw.secret_access_key)

    def server(self, i: int) -> str:
        return f"{self.key}{i:02d}"

    def sources(self, n: int) -> list[str]:
        """``n`` small directories (one file each) in the user's home."""
        root = self.home / "data"
        out = []
        for i in range(n):
            d = root / f"src{i:03d}"
            d.mkdir(parents=True, exist_ok=True)
            (d / "file.txt").write_text(f"job {i}\n")
            out.append(str(d))
        self.chown(root)
        return out

    def history(self, job: str, runs: int, log_size: int) -> int:
        """One real run of ``job``, then ``runs`` planted runs in every job; returns the
        number of run records on the server."""
        from ctrlops.services import jobs, servers

        async def go() -> dict[str, Any]:
            try:
                return await jobs.run_now(job, wait=True)
            finally:
                await servers.close_all()

        real = asyncio.run(go())
        if real["state"] not in ("success", "success, nothing copied"):
            raise SystemExit(f"the real run went wrong: {real}")
        uids = [j.uid for j in jobs.list_all()]
        run_dir = self.home / ".ctrlops" / "jobs" / jobs.get(job).uid / "runs" / real["id"]
        log = self.tmp / "padded.log"
        pad_log(run_dir / "rclone.log", log, log_size)
        os.lchown(log, *self.owner)
        log.chmod(0o600)
        # Hard links must live on the same file system as the runs.
        linked = self.home / ".ctrlops" / "padded.log"
        shutil.move(log, linked)
        template = Template.read(run_dir)
        for uid in uids:
            plant_runs(self.home / ".ctrlops" / "jobs" / uid, template, linked, runs, self.owner)
        linked.unlink()
        return len(uids) * runs + 1

    def expect_crontab(self, lines: int) -> None:
        """Exit unless the user's crontab block is intact and holds ``lines`` job lines."""
        from ctrlops.runner import crontab

        argv = ["crontab", "-l", "-u", self.user]
        block = crontab.parse_block(subprocess.run(argv, capture_output=True, text=True).stdout)
        found = len(block.entries) if block is not None else 0
        if found != lines or (block is not None and block.drifted):
            raise SystemExit(f"crontab block: {found} lines, expected {lines}; {block}")

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.s3 is not None:
            self.s3.stop()
        subprocess.run(["crontab", "-r", "-u", self.user], capture_output=True, check=False)
        for _ in range(20):
            r = subprocess.run(["userdel", "-r", self.user], capture_output=True, text=True)
            if r.returncode in (0, 6):  # 6: no such user
                return
            time.sleep(0.5)
        print(f"warning: could not delete user {self.user}: {r.stderr.strip()}", file=sys.stderr)


def timed(sc: Scenario, rows: list[Row], row: Row, phase: str, spec: Any = None) -> None:
    before = accepted(sc.logs)
    r = measure(phase, sc.env, spec, sc.tmp)
    time.sleep(0.2)  # sshd writes its log line after the login
    row.ssh.append(accepted(sc.logs) - before)
    row.seconds.append(r["seconds"])
    row.cpu.append(r["cpu"])
    row.peak_mb.append(r["peak_kb"] / 1024)
    row.growth_mb.append((r["peak_kb"] - r["base_kb"]) / 1024)
    row.runs.append(int(r.get("runs", 0)))
    if row not in rows:
        rows.append(row)
    print(
        f"  {row.scenario} {row.phase:26} {r['seconds']:8.2f} s  cpu {r['cpu']:7.2f} s"
        f"  peak {r['peak_kb'] / 1024:6.1f} MB"
        f"  +{(r['peak_kb'] - r['base_kb']) / 1024:6.1f} MB  ssh {row.ssh[-1]}",
        flush=True,
    )


def scenario(key: str, tmp: Path, n_servers: int, per_server: int, args: Any) -> list[Row]:
    rows: list[Row] = []
    sc = Scenario(key, tmp)
    try:
        sc.start(n_servers)
        sc.register()
        total = n_servers * per_server
        srcs = sc.sources(total)
        scheduled = n_servers == 1  # one user's crontab cannot hold many servers' blocks
        jobs = [
            {
                "name": f"{key}-job{i:03d}",
                "server": sc.server(i // per_server),
                "sources": [srcs[i]],
                "dest": "store",
                "schedule": NEVER_SOON if scheduled else None,
            }
            for i in range(total)
        ]
        size = f"{n_servers} srv x {per_server} jobs"
        timed(sc, rows, Row(key, "add all (jobs.add each)", size), "add", {"jobs": jobs})
        deploy = Row(key, "deploy-all", size)
        check = Row(key, "check-all", size)
        sc.expect_crontab(total if scheduled else 0)
        for _ in range(args.reps):
            timed(sc, rows, deploy, "deploy")
        sc.expect_crontab(total if scheduled else 0)
        for _ in range(args.reps):
            timed(sc, rows, check, "check")
        n_runs = sc.history(str(jobs[0]["name"]), args.runs, args.log_kib * 1024)
        hist = f"{size}, {n_runs} runs"
        cold, warm = Row(key, "sync-all cold", hist), Row(key, "sync-all warm", hist)
        for _ in range(args.reps):
            timed(sc, rows, cold, "sync-cold")
            if cold.runs[-1] != n_runs:
                raise SystemExit(f"cold sync read {cold.runs[-1]} runs, expected {n_runs}")
            timed(sc, rows, warm, "sync-warm")
            if warm.runs[-1] != 0:
                raise SystemExit(f"warm sync read {warm.runs[-1]} runs, expected 0")
        after = Row(key, "check-all (runs in store)", hist)
        for _ in range(args.reps):
            timed(sc, rows, after, "check")
    finally:
        sc.stop()
    return rows


def med(xs: list[float] | list[int]) -> float:
    return float(statistics.median(xs))


def table(rows: list[Row], markdown: bool) -> str:
    head = [
        "scenario",
        "phase",
        "size",
        "time",
        "CPU",
        "peak RSS",
        "RSS growth",
        "SSH logins",
        "runs read",
    ]
    body = [
        [
            r.scenario.upper(),
            r.phase,
            r.size,
            f"{med(r.seconds):.2f} s",
            f"{med(r.cpu):.2f} s",
            f"{med(r.peak_mb):.0f} MB",
            f"{med(r.growth_mb):.1f} MB",
            f"{med(r.ssh):.0f}",
            f"{med(r.runs):.0f}" if r.phase.startswith("sync") else "",
        ]
        for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(b) + " |" for b in body])
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    return "\n".join(fmt.format(*line) for line in [head, *body])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--spec", default="", help=argparse.SUPPRESS)
    ap.add_argument("--limit-mb", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--jobs", type=int, default=200, help="jobs on the one server (A)")
    ap.add_argument("--servers", type=int, default=50, help="servers (B)")
    ap.add_argument("--server-jobs", type=int, default=2, help="jobs per server (B)")
    ap.add_argument("--runs", type=int, default=50, help="planted runs per job")
    ap.add_argument("--log-kib", type=int, default=1024, help="size of every planted log")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", choices=("a", "b"))
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown too")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.spec, args.limit_mb)
        return
    if os.geteuid() != 0:
        raise SystemExit("run as root: the bench creates (and deletes) its login users")
    sys.path.insert(0, str(REPO))
    tmp = Path(tempfile.mkdtemp(prefix="ctrlops-load-"))
    tmp.chmod(0o755)
    rows: list[Row] = []
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    try:
        if args.only in (None, "a"):
            rows += scenario("a", tmp, 1, args.jobs, args)
        if args.only in (None, "b"):
            rows += scenario("b", tmp, args.servers, args.server_jobs, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(
        f"medians of {args.reps} (add all: once); {args.runs} planted runs per job, "
        f"logs of {args.log_kib} KiB; peak RSS of a fresh process per phase "
        f"(VmHWM), growth over its RSS right before the phase; "
        f"whole bench {time.perf_counter() - t0:.0f} s; load average at start "
        f"{load0:.1f}, at end {os.getloadavg()[0]:.1f}"
    )
    print(table(rows, markdown=False))
    if args.markdown:
        print()
        print(table(rows, markdown=True))


if __name__ == "__main__":
    main()

"""ctrlops-run for real: dash, the real rclone, the real S3 server (SeaweedFS)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from ctrlops.embedded.s3 import LocalS3
from ctrlops.runner import jobfile, layout, script
from ctrlops.runner.jobfile import JobFiles
from tests.support.s3 import rclone_env

RCLONE = Path(sys.executable).parent / "rclone"
UID = "web-1"
# Big enough that a run limited to 256 KiB/s lasts ~12 s: time to overlap, kill, inspect.
SLOW_BYTES = 3 * 1024 * 1024
SLOW_LIMIT = "256k"


@dataclass
class Server:
    """A pretend server: a home dir with ~/.ctrlops, run as the current user under dash."""

    home: Path
    s3: LocalS3
    bucket: str
    path: str = layout.CRON_PATH

    @property
    def jobdir(self) -> Path:
        return self.home / layout.job_dir(UID)

    @property
    def runner(self) -> Path:
        return self.home / layout.RUNNER

    def write_job(self, job: JobFiles) -> None:
        self.jobdir.mkdir(parents=True, exist_ok=True)
        files = {
            "job.env": jobfile.render_job_env(job),
            "sources": jobfile.render_sources(job),
            "excludes": jobfile.render_excludes(job),
            "rclone.conf": (
                f"[{job.remote}]\ntype = s3\nprovider = SeaweedFS\nendpoint = {self.s3.endpoint}\n"
                f"access_key_id = {self.s3.rw.access_key_id}\n"
                f"secret_access_key = {self.s3.rw.secret_access_key}\n"
            ),
        }
        for name, text in files.items():
            (self.jobdir / name).write_text(text)
            (self.jobdir / name).chmod(0o600)

    def job(self, sources: list[Path], **changes: object) -> JobFiles:
        job = JobFiles(
            uid=UID,
            name="web",
            mode="copy",
            bucket=self.bucket,
            prefix="srv1",
            sources=tuple(str(s) for s in sources),
            stats_interval="1s",
        )
        job = replace(job, **changes)  # type: ignore[arg-type]
        self.write_job(job)
        return job

    def env(self) -> dict[str, str]:
        # What cron gives a job: HOME, a PATH, little else. No RCLONE_* variables.
        return {"HOME": str(self.home), "PATH": self.path, "LANG": "C"}

    def popen(self, *args: str, **kw: object) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
            ["dash", str(self.runner), *args], env=self.env(), **kw
        )

    def run(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["dash", str(self.runner), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def records(self) -> dict[str, dict[str, str]]:
        """Every run record, as parsed from one `ctrlops-run status` call."""
        out = self.run("status", UID)
        assert out.returncode == 0, out.stderr
        return parse_status(out.stdout)

    def record(self, run_id: str) -> dict[str, str]:
        return self.records()[run_id]

    def only_record(self) -> tuple[str, dict[str, str]]:
        records = self.records()
        assert len(records) == 1, records
        return next(iter(records.items()))

    def wait_for(
        self, run_id: str, test: Callable[[dict[str, str]], bool], timeout: float = 20
    ) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.records().get(run_id)
            if record and test(record):
                return record
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} never got there: {self.records().get(run_id)}")

    def log_stats(self, run_id: str) -> dict[str, object]:
        """The last stats block rclone logged in that run."""
        log = self.jobdir / "runs" / run_id / "rclone.log"
        stats = [
            json.loads(line)["stats"] for line in log.read_text().splitlines() if '"stats"' in line
        ]
        assert stats, log.read_text()
        return stats[-1]  # type: ignore[no-any-return]

    def bucket_files(self) -> dict[str, str]:
        """Path -> content of every object in the bucket (read with rclone)."""
        out = subprocess.run(
            [str(RCLONE), "lsf", "-R", "--files-only", f"s3t:{self.bucket}"],
            env=rclone_env(self.s3),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        files = {}
        for key in out.splitlines():
            files[key] = subprocess.run(
                [str(RCLONE), "cat", f"s3t:{self.bucket}/{key}"],
                env=rclone_env(self.s3),
                capture_output=True,
                check=True,
            ).stdout.decode(errors="replace")
        return files


def parse_status(text: str) -> dict[str, dict[str, str]]:
    """Parse `ctrlops-run status`: "run=<id>", key=value lines, a blank line, repeated."""
    records: dict[str, dict[str, str]] = {}
    assert text == "" or text.endswith("\n\n"), text
    for chunk in text.split("\n\n"):
        if not chunk:
            continue
        lines = chunk.split("\n")
        assert lines[0].startswith("run="), chunk
        fields = dict(line.split("=", 1) for line in lines[1:])
        records[lines[0][4:]] = fields
    return records


def group_members(pgid: int) -> list[tuple[int, str]]:
    """Live (non-zombie) processes in process group ``pgid``, with their argv."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append((int(proc.name), argv))
    return found


@pytest.fixture
def server(tmp_path: Path, s3: LocalS3, bucket: str) -> Iterator[Server]:
    home = tmp_path / "home"
    (home / layout.BIN).mkdir(parents=True)
    runner = home / layout.RUNNER
    runner.write_bytes(script.load())
    runner.chmod(0o755)
    (home / layout.RCLONE).symlink_to(RCLONE)
    yield Server(home, s3, bucket)
    # A failed test must not leave a slow run behind: end every group this home started.
    for record in parse_status(Server(home, s3, bucket).run("status", UID).stdout).values():
        pgid = int(record["pgid"] or 0)
        if pgid > 1 and any(str(home) in argv for _, argv in group_members(pgid)):
            os.killpg(pgid, signal.SIGKILL)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "data"
    (src / "sub dir").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub dir" / "it's $x.txt").write_text("beta\n")
    (src / ".hidden").write_text("gamma\n")
    return src


def start_slow_run(server: Server, source: Path) -> str:
    """Start a detached run that lasts ~12 s; return its id once rclone is transferring."""
    (source / "big.bin").write_bytes(os.urandom(SLOW_BYTES))
    server.job([source], bwlimit=SLOW_LIMIT)
    out = server.run("detach", UID)
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip()
    pgid = int(server.record(run_id)["pgid"])
    deadline = time.monotonic() + 10
    while not any("rclone copy" in argv for _, argv in group_members(pgid)):
        assert time.monotonic() < deadline, "rclone never started"
        time.sleep(0.05)
    return run_id


def test_it_copies_sources_to_current_under_their_absolute_path(
    server: Server, source: Path
) -> None:
    server.job([source])
    out = server.run("start", UID)
    assert out.returncode == 0, out.stderr
    run_id, record = server.only_record()
    assert record["state"] == "success"
    assert record["exit_code"] == "0"
    assert record["trigger"] == "cron"
    assert record["runner_version"] == str(script.RUNNER_VERSION)
    assert record["pid"] == run_id.rsplit("-", 1)[1]
    assert record["started"] <= record["finished"]
    base = f"srv1/current{source}"
    assert server.bucket_files() == {
        f"{base}/a.txt": "alpha\n",
        f"{base}/sub dir/it's $x.txt": "beta\n",
        f"{base}/.hidden": "gamma\n",
    }


def test_it_checks_everything_and_copies_nothing_when_unchanged(
    server: Server, source: Path
) -> None:
    server.job([source])
    assert server.run("start", UID, "manual").returncode == 0
    time.sleep(1)  # a new run id (second resolution)
    assert server.run("start", UID, "manual").returncode == 0
    records = server.records()
    assert [r["state"] for r in records.values()] == ["success", "success"]
    second = sorted(records)[1]
    assert records[second]["trigger"] == "manual"
    stats = server.log_stats(second)
    assert stats["transfers"] == 0
    assert stats["checks"] == 3


def test_it_succeeds_with_zero_transfers_for_an_empty_source_in_copy_mode(
    server: Server, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    server.job([empty])
    assert server.run("start", UID).returncode == 0
    run_id, record = server.only_record()
    assert record["state"] == "success"
    stats = server.log_stats(run_id)
    assert (stats["transfers"], stats["checks"], stats["bytes"]) == (0, 0, 0)


def test_it_fails_a_missing_source_without_running_rclone(server: Server, tmp_path: Path) -> None:
    missing = tmp_path / "no such dir"
    server.job([missing])
    out = server.run("start", UID)
    assert out.returncode == 3
    run_id, record = server.only_record()
    assert record["state"] == "failed"
    assert record["exit_code"] == "3"
    assert record["reason"] == f"source_missing:{missing}"
    assert not (server.jobdir / "runs" / run_id / "rclone.log").exists()


def test_it_runs_every_source_and_keeps_the_first_failure(
    server: Server, source: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "gone"
    server.job([missing, source])
    assert server.run("start", UID).returncode == 3
    _, record = server.only_record()
    assert (record["state"], record["reason"]) == ("failed", f"source_missing:{missing}")
    assert f"srv1/current{source}/a.txt" in server.bucket_files()


def test_it_keeps_only_the_newest_runs(server: Server, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    server.job([empty], keep_runs=2)
    for _ in range(3):
        assert server.run("start", UID).returncode == 0
    assert len(server.records()) == 2


def test_it_fails_with_binary_missing_when_no_rclone_is_found(server: Server, source: Path) -> None:
    (server.home / layout.RCLONE).unlink()  # and CRON_PATH holds no rclone here
    server.job([source])
    assert server.run("start", UID).returncode == 127
    _, record = server.only_record()
    assert (record["state"], record["reason"]) == ("failed", "binary_missing")


def test_it_keeps_deleted_and_overwritten_files_under_versions_in_mirror_mode(
    server: Server, source: Path
) -> None:
    server.job([source], mode="mirror")
    assert server.run("start", UID).returncode == 0
    (source / "a.txt").write_text("alpha v2\n")
    (source / ".hidden").unlink()
    time.sleep(1)
    assert server.run("start", UID).returncode == 0
    second = sorted(server.records())[1]
    assert server.records()[second]["state"] == "success"
    files = server.bucket_files()
    current, versions = f"srv1/current{source}", f"srv1/versions/{second}{source}"
    assert files[f"{current}/a.txt"] == "alpha v2\n"
    assert f"{current}/.hidden" not in files
    assert files[f"{versions}/a.txt"] == "alpha\n"
    assert files[f"{versions}/.hidden"] == "gamma\n"


def test_it_refuses_to_mirror_an_empty_source(server: Server, source: Path) -> None:
    server.job([source], mode="mirror")
    assert server.run("start", UID).returncode == 0
    before = server.bucket_files()
    for path in sorted(source.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    time.sleep(1)
    assert server.run("start", UID).returncode == 3
    second = sorted(server.records())[1]
    record = server.records()[second]
    assert (record["state"], record["reason"]) == ("failed", f"source_empty:{source}")
    assert server.bucket_files() == before


def test_it_records_an_overlapping_start_as_skipped(server: Server, source: Path) -> None:
    first = start_slow_run(server, source)
    out = server.run("start", UID)
    assert out.returncode == 0
    records = server.records()
    (second,) = set(records) - {first}
    assert records[second]["state"] == "skipped"
    assert records[second]["held_by"] == first
    assert records[first]["state"] == "running"
    assert records[first]["alive"] == "1"
    server.run("kill", UID)


def test_it_skips_with_the_mkdir_lock_when_flock_is_missing(
    server: Server, source: Path, tmp_path: Path
) -> None:
    # A PATH with every usual tool but flock, as on a minimal image.
    bare = tmp_path / "bin-without-flock"
    bare.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        for tool in Path(folder).iterdir() if Path(folder).is_dir() else []:
            link = bare / tool.name
            if tool.name != "flock" and not link.exists():
                link.symlink_to(tool)
    server.path = str(bare)
    first = start_slow_run(server, source)
    assert (server.jobdir / "lock.d").is_dir()
    assert server.run("start", UID).returncode == 0
    records = server.records()
    (second,) = set(records) - {first}
    assert (records[second]["state"], records[second]["held_by"]) == ("skipped", first)
    server.run("kill", UID)
    server.wait_for(first, lambda r: r["state"] == "killed")
    assert not (server.jobdir / "lock.d").exists()


def test_it_kills_the_whole_process_group_and_records_killed(server: Server, source: Path) -> None:
    run_id = start_slow_run(server, source)
    pgid = int(server.record(run_id)["pgid"])
    out = server.run("kill", UID)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == run_id
    record = server.record(run_id)
    assert record["state"] == "killed"
    assert record["reason"] == "kill_requested"
    assert record["finished"]
    assert group_members(pgid) == []
    # The lock went with the run: the next run is a real one, not "skipped".
    (source / "big.bin").unlink()
    assert server.run("start", UID).returncode == 0


def test_it_records_killed_when_the_runner_alone_gets_term(server: Server, source: Path) -> None:
    run_id = start_slow_run(server, source)
    record = server.record(run_id)
    os.kill(int(record["pid"]), signal.SIGTERM)
    record = server.wait_for(run_id, lambda r: r["state"] != "running", timeout=10)
    assert (record["state"], record["reason"]) == ("killed", "signal:TERM")
    assert group_members(int(record["pgid"])) == []


def test_it_records_killed_even_when_the_runner_was_sigkilled(server: Server, source: Path) -> None:
    run_id = start_slow_run(server, source)
    record = server.record(run_id)
    os.kill(int(record["pid"]), signal.SIGKILL)  # no trap runs; rclone lives on
    time.sleep(0.3)
    assert server.record(run_id)["alive"] == "0"
    assert server.run("kill", UID).returncode == 0
    record = server.record(run_id)
    assert (record["state"], record["exit_code"]) == ("killed", "137")
    assert group_members(int(record["pgid"])) == []


def test_it_finishes_a_detached_run_after_its_caller_is_killed(
    server: Server, source: Path
) -> None:
    (source / "mid.bin").write_bytes(os.urandom(512 * 1024))
    server.job([source], bwlimit="512k")  # ~1-2 s: still running when the caller dies
    caller = server.popen("detach", UID, stdout=subprocess.PIPE, start_new_session=True)
    assert caller.stdout is not None
    run_id = caller.stdout.readline().decode().strip()
    # The SSH session drops: its whole process group and session go at once.
    os.killpg(caller.pid, signal.SIGKILL)
    caller.wait()
    record = server.record(run_id)
    assert record["state"] == "running"
    assert record["trigger"] == "manual"
    assert int(record["pgid"]) != caller.pid
    record = server.wait_for(run_id, lambda r: r["state"] != "running", timeout=20)
    assert record["state"] == "success"
    assert f"srv1/current{source}/mid.bin" in server.bucket_files()


def test_it_prints_every_run_record_in_one_status_call(server: Server, source: Path) -> None:
    server.job([source])
    server.run("start", UID)
    time.sleep(1)
    server.run("start", UID)
    out = server.run("status", UID).stdout
    records = parse_status(out)
    assert len(records) == 2
    keys = {"state", "trigger", "pid", "pgid", "started", "finished", "exit_code", "reason"}
    assert all(keys <= set(r) for r in records.values())
    newest = parse_status(server.run("status", UID, "1").stdout)
    assert list(newest) == [sorted(records)[1]]


def test_it_never_shows_the_secret_in_any_process_argv_or_environment(
    server: Server, source: Path
) -> None:
    secret = server.s3.rw.secret_access_key.encode()
    start_slow_run(server, source)
    seen = []
    for proc in Path("/proc").iterdir():
        for name in ("cmdline", "environ"):
            try:
                if secret in (proc / name).read_bytes():
                    seen.append(f"{proc.name}/{name}")
            except OSError:
                continue
    server.run("kill", UID)
    assert seen == []


@pytest.fixture
def full_runs_disk(server: Server) -> Iterator[Path]:
    """The job's runs/ dir on its own 1 MiB tmpfs (needs root), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    runs = server.jobdir / "runs"
    runs.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(runs)])
    if mounted.returncode != 0:
        pytest.skip("cannot mount tmpfs here")
    try:
        yield runs
    finally:
        subprocess.run(["umount", "-l", str(runs)], check=False)


def fill(folder: Path) -> None:
    """Write into ``folder`` until its filesystem has no byte left."""
    with (folder / "filler").open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"x" * 4096)
        except OSError:
            pass


@pytest.mark.root
def test_it_records_the_end_of_a_run_even_on_a_full_disk(
    server: Server, source: Path, full_runs_disk: Path
) -> None:
    run_id = start_slow_run(server, source)
    fill(full_runs_disk)
    record = server.record(run_id)
    os.kill(int(record["pid"]), signal.SIGTERM)
    deadline = time.monotonic() + 10
    while server.record(run_id)["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    record = server.record(run_id)
    assert (record["state"], record["reason"]) == ("killed", "signal:TERM")
    assert not list((full_runs_disk / run_id).glob(".status.*"))


def test_it_bounds_rclones_retries_and_lets_the_jobs_extra_flags_override_them(
    server: Server, source: Path
) -> None:
    (source / "big.bin").write_bytes(os.urandom(SLOW_BYTES))
    server.job([source], bwlimit=SLOW_LIMIT, extra_flags=("--low-level-retries=7",))
    run_id = server.run("detach", UID).stdout.strip()
    pgid = int(server.record(run_id)["pgid"])
    deadline = time.monotonic() + 10
    while not (argv := [a for _, a in group_members(pgid) if "rclone copy" in a]):
        assert time.monotonic() < deadline, "rclone never started"
        time.sleep(0.05)
    server.run("kill", UID)
    args = argv[0].split()
    defaults = ["--low-level-retries", "3", "--retries", "3", "--retries-sleep", "10s"]
    at = args.index("--low-level-retries")
    assert args[at : at + 6] == defaults, args
    assert args[args.index("--contimeout") + 1] == "30s", args
    # rclone takes the last value of a flag: the job's own comes after the default.
    assert args.index("--low-level-retries=7") > at, args


def test_it_fails_a_run_whose_log_lacks_rclones_closing_summary(
    server: Server, source: Path
) -> None:
    # --stats=0 (which ctrlops would refuse; job.env written by hand): rclone copies, exits
    # 0 and logs no summary, as when its log could not be written. Nothing shows what the
    # run did.
    server.job([source])
    with (server.jobdir / "job.env").open("a") as f:
        f.write("EXTRA_FLAGS='--stats=0'\n")
    assert server.run("start", UID).returncode == 74
    run_id, record = server.only_record()
    log = server.jobdir / "runs" / run_id / "rclone.log"
    assert (record["state"], record["reason"]) == ("failed", f"log_incomplete:{log}")
    assert f"srv1/current{source}/a.txt" in server.bucket_files()

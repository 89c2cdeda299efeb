"""Checking a fleet: ctrlops ``check_all`` against Ansible ad-hoc probes, in one process.

N loopback "servers" (N = 1, 10, 50 by default) are ports of real sshd daemons (one daemon
per 16 ports), all logging in as the bench user ``ctrlops-bench``. For each N, with fresh
connections every time:

- ctrlops: ``servers.check_all()`` (every layer, the facts script, all banners);
- Ansible: ``ansible -m shell`` running the equivalent probes with ``--forks N``
  (ControlMaster off, like ctrlops's fresh connections).

Repetitions alternate which goes first; medians are printed with ctrlops/ansible and
ctrlops(N)/ctrlops(1). Needs root (it creates, then deletes, the bench user). Usage:

    .venv/bin/python bench/fleet_check.py [--sizes 1,10,50] [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ANSIBLE = Path(sys.executable).parent / "ansible"
USER = "ctrlops-bench"
PER_SSHD = 16  # one sshd listens on at most 16 sockets
PROBES = "command -v rclone; command -v crontab; pgrep -x cron; date +%s; df -Pk ~"


def arun(coro: Coroutine[Any, Any, Any]) -> Any:
    from ctrlops.services import servers

    async def main() -> Any:
        try:
            return await coro
        finally:
            await servers.close_all()  # the next repetition connects afresh

    return asyncio.run(main())


def distinct_ports(n: int) -> list[int]:
    from tests.support.sshd import free_port

    ports: list[int] = []
    while len(ports) < n:
        p = free_port()
        if p not in ports:
            ports.append(p)
    return ports


def delete_user() -> None:
    """Remove the bench user and its home; its sessions may take a moment to end."""
    for _ in range(20):
        r = subprocess.run(["userdel", "-r", USER], capture_output=True, text=True)
        if r.returncode in (0, 6):  # 6: no such user
            return
        time.sleep(0.5)
    print(f"warning: could not delete user {USER}: {r.stderr.strip()}", file=sys.stderr)


class Fleet:
    def __init__(self, tmp: Path, size: int) -> None:
        from tests.support.sshd import authorize, ensure_user, keygen, start_sshd

        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        home = ensure_user(USER)
        self.key = keygen(tmp / "id_ed25519")
        self.key.chmod(0o600)
        authorize(USER, home, (tmp / "id_ed25519.pub").read_text(), None)
        self.ports = distinct_ports(size)
        for i in range(0, size, PER_SSHD):
            work = tmp / f"sshd{i // PER_SSHD}"
            work.mkdir()
            work.chmod(0o755)
            proc, _log, _hostkey = start_sshd(work, self.ports[i : i + PER_SSHD], None)
            self.procs.append(proc)
        self.registered = 0
        self.cpu: list[float] = []  # this process's CPU seconds per timed check_all
        self.ansible_env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(tmp / "ansible.cfg"),
            "ANSIBLE_HOME": str(tmp / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            # Fresh connections, as ctrlops makes them; nothing written to ~/.ssh.
            "ANSIBLE_SSH_ARGS": "-o ControlMaster=no -o ControlPersist=no "
            "-o UserKnownHostsFile=/dev/null",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "LC_ALL": "C.UTF-8",
        }
        (tmp / "ansible.cfg").write_text("[defaults]\n")

    def register(self, n: int) -> None:
        """Have exactly the first ``n`` servers in the store (sizes only grow)."""
        from ctrlops.server.spec import parse_spec
        from ctrlops.services import servers

        for i in range(self.registered, n):
            spec = parse_spec(
                name=f"s{i:02d}",
                host="127.0.0.1",
                port=self.ports[i],
                user=USER,
                key=str(self.key),
            )
            servers.add(spec)
        self.registered = n
        inventory = ["[bench]"] + [
            f"s{i:02d} ansible_host=127.0.0.1 ansible_port={self.ports[i]}" for i in range(n)
        ]
        inventory += [
            "[bench:vars]",
            f"ansible_user={USER}",
            f"ansible_ssh_private_key_file={self.key}",
            "ansible_python_interpreter=/usr/bin/python3",
        ]
        self.inventory = self.tmp / f"inventory-{n}.ini"
        self.inventory.write_text("\n".join(inventory) + "\n")

    def ctrlops(self, n: int) -> float:
        from ctrlops.services import servers

        async def timed() -> tuple[float, list[dict[str, Any]]]:
            t0, cpu0 = time.perf_counter(), time.process_time()
            results = await servers.check_all()
            self.cpu.append(time.process_time() - cpu0)
            return time.perf_counter() - t0, results

        result: tuple[float, list[dict[str, Any]]] = arun(timed())
        took, results = result
        bad = [r for r in results if not r["ok"]]
        if len(results) != n or bad:
            raise SystemExit(f"ctrlops check failed: {bad[:1]}")
        return took

    def ansible(self, n: int) -> float:
        argv = [str(ANSIBLE), "bench", "-i", str(self.inventory), "-m", "shell"]
        argv += ["-a", PROBES, "--forks", str(n), "-o"]
        t0 = time.perf_counter()
        r = subprocess.run(argv, env=self.ansible_env, capture_output=True, text=True)
        took = time.perf_counter() - t0
        ok = r.stdout.count("| CHANGED |") + r.stdout.count("| SUCCESS |")
        if r.returncode != 0 or ok != n:
            raise SystemExit(f"ansible failed (exit {r.returncode}):\n{r.stdout[-2000:]}")
        return took

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sizes", default="1,10,50", help="fleet sizes, comma-separated")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if os.geteuid() != 0:
        raise SystemExit("run as root: the bench creates (and deletes) the user " + USER)
    sys.path.insert(0, str(REPO))

    tmp = Path(tempfile.mkdtemp(prefix="ctrlops-fleet-"))
    tmp.chmod(0o755)
    os.environ["CTRLOPS_HOME"] = str(tmp / "ctrlops-home")
    os.environ.pop("CTRLOPS_DATABASE_URL", None)
    fleet: Fleet | None = None
    rows: list[tuple[int, float, float, float]] = []
    try:
        fleet = Fleet(tmp, max(sizes))
        for n in sizes:
            fleet.register(n)
            fleet.ctrlops(n)  # warm-up: pins the host keys (trust on first use)
            fleet.ansible(n)  # warm-up: Ansible's module cache
            times: dict[str, list[float]] = {"ctrlops": [], "ansible": []}
            fleet.cpu.clear()
            for rep in range(args.reps):
                order = ("ctrlops", "ansible") if rep % 2 == 0 else ("ansible", "ctrlops")
                for who in order:
                    took = fleet.ctrlops(n) if who == "ctrlops" else fleet.ansible(n)
                    times[who].append(took)
                    print(f"  N={n:<3} rep {rep} {who:8} {took:7.3f} s", flush=True)
            rows.append(
                (
                    n,
                    float(statistics.median(times["ctrlops"])),
                    float(statistics.median(times["ansible"])),
                    float(statistics.median(fleet.cpu)),
                )
            )
    finally:
        if fleet is not None:
            fleet.stop()
        delete_user()
        shutil.rmtree(tmp, ignore_errors=True)

    base = rows[0][1]
    print()
    print(f"{args.reps} repetitions per size, order alternated; medians in seconds")
    print("cpu: CPU seconds the control plane itself spent in check_all (the rest of the")
    print("wall time is the N simulated servers -- sshd, the facts script -- on this machine)")
    head = f"{'N':>4} {'ctrlops':>9} {'ansible':>9} {'ctrlops/ansible':>16} {'ctrlops(N)/(1)':>15}"
    print(head + f" {'cpu':>7}")
    for n, c, a, cpu in rows:
        print(f"{n:>4} {c:9.3f} {a:9.3f} {c / a:16.3f} {c / base:15.3f} {cpu:7.3f}")


if __name__ == "__main__":
    main()

"""The fleet as Prometheus metrics: what the overview shows, for an alerting system.

Read from the store (kept current by the web UI's sync monitor), so a scrape never waits
on SSH. The example alert in the README, "no successful backup for 26 h":

    time() - ctrlops_job_last_success_timestamp_seconds > 26 * 3600

A job that never succeeded has no ``last_success`` sample; ``ctrlops_job_covered == 0``
catches it (and every other way a job's schedule went unserved).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from ctrlops import paths
from ctrlops.services import overview

TOKEN_FILE = "metrics-token"  # noqa: S105 (a file name, not a secret)
STATES = ("success", "success, nothing copied", "warning", "failed", "interrupted", "stalled",
          "killed", "skipped", "running")  # fmt: skip
SEVERITIES = ("error", "warning", "info")


def token() -> str:
    """The bearer token a scraper sends, created 0600 in the data dir on first use."""
    return paths.private_key(TOKEN_FILE, lambda: secrets.token_urlsafe(32).encode()).decode()


def token_path() -> str:
    token()
    return str(paths.home() / TOKEN_FILE)


class _Fleet(Collector):
    def __init__(self, fleet: overview.Fleet) -> None:
        self.fleet = fleet

    def collect(self) -> Iterator[Metric]:
        job = ["job", "server"]
        g = {
            "state": GaugeMetricFamily(
                "ctrlops_job_last_run_state",
                "1 for the state of the job's newest run (labels: state), 0 for the others",
                labels=[*job, "state"],
            ),
            "covered": GaugeMetricFamily(
                "ctrlops_job_covered",
                "1 when the job's schedule is served by a recent success, else 0",
                labels=job,
            ),
            "indicator": GaugeMetricFamily(
                "ctrlops_job_indicator",
                "The overview's indicator: 0 green, 1 amber, 2 red",
                labels=job,
            ),
            "last_run": GaugeMetricFamily(
                "ctrlops_job_last_run_timestamp_seconds",
                "When the job's newest run started (Unix time)",
                labels=job,
            ),
            "last_success": GaugeMetricFamily(
                "ctrlops_job_last_success_timestamp_seconds",
                "When the job's newest successful run started (Unix time)",
                labels=job,
            ),
            "files": GaugeMetricFamily(
                "ctrlops_job_last_run_files_transferred",
                "Files the job's newest run transferred",
                labels=job,
            ),
            "bytes": GaugeMetricFamily(
                "ctrlops_job_last_run_bytes_transferred",
                "Bytes the job's newest run transferred",
                labels=job,
            ),
            "duration": GaugeMetricFamily(
                "ctrlops_job_last_run_duration_seconds",
                "How long the job's newest finished run took",
                labels=job,
            ),
            "verify": GaugeMetricFamily(
                "ctrlops_job_verify_signal",
                "The latest scheduled verification: 0 green, 1 amber, 2 red (jobs with one)",
                labels=job,
            ),
            "verified": GaugeMetricFamily(
                "ctrlops_job_last_verify_timestamp_seconds",
                "When the job's latest scheduled verification finished (Unix time)",
                labels=job,
            ),
        }
        level = {"green": 0, "amber": 1, "red": 2}
        for row in self.fleet.jobs:
            key = [row.name, row.server]
            g["covered"].add_metric(key, 1 if row.health.covered else 0)
            g["indicator"].add_metric(key, level.get(row.health.indicator, 2))
            if row.verify is not None:
                g["verify"].add_metric(key, level.get(str(row.verify.get("signal")), 2))
                if row.verify.get("finished"):
                    at = datetime.fromisoformat(str(row.verify["finished"]))
                    g["verified"].add_metric(key, at.timestamp())
            if row.last_success is not None:
                g["last_success"].add_metric(key, row.last_success.timestamp())
            run = row.last_run
            if run is None:
                continue
            for state in STATES:
                g["state"].add_metric([*key, state], 1 if run.state == state else 0)
            if run.started is not None:
                g["last_run"].add_metric(key, run.started.timestamp())
            g["files"].add_metric(key, run.files)
            g["bytes"].add_metric(key, run.bytes)
            if run.started is not None and run.finished is not None:
                g["duration"].add_metric(key, (run.finished - run.started).total_seconds())
        yield from g.values()
        yield from self._servers()

    def _servers(self) -> Iterator[Metric]:
        banners = GaugeMetricFamily(
            "ctrlops_server_banners",
            "Health banners showing on the server, by severity",
            labels=["server", "severity"],
        )
        reachable = GaugeMetricFamily(
            "ctrlops_server_reachable",
            "1 when the server's last check reached it, else 0",
            labels=["server"],
        )
        checked = GaugeMetricFamily(
            "ctrlops_server_last_check_timestamp_seconds",
            "When the server was last checked (Unix time)",
            labels=["server"],
        )
        for server in self.fleet.servers:
            check = self.fleet.checks.get(server.name)
            if check is None:
                continue
            reachable.add_metric([server.name], 1 if check.get("ok") else 0)
            shown = check.get("banners") or []
            for severity in SEVERITIES:
                count = sum(1 for b in shown if b.get("severity") == severity)
                banners.add_metric([server.name, severity], count)
            when = check.get("checked_at")
            if isinstance(when, datetime):
                checked.add_metric([server.name], when.timestamp())
        yield from (banners, reachable, checked)


def exposition() -> bytes:
    """The Prometheus text format of the whole fleet."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fleet(overview.fleet()))
    return generate_latest(registry)

"""Small pure pieces of the web UI: the loopback check, field mapping, the chart."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from ctrlops.cli.serve import is_loopback
from ctrlops.errors import InputError, NotFoundError
from ctrlops.services.overview import RunView
from ctrlops.web.charts import run_chart
from ctrlops.web.render import field_errors


def test_it_warns_about_every_address_but_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("example.com")


def test_it_puts_a_service_error_next_to_the_form_field_it_names() -> None:
    fields = ("name", "port", "server", "secret")
    assert field_errors(InputError("--port", "must be between 1 and 65535"), fields) == {
        "port": "must be between 1 and 65535"
    }
    assert "secret" in field_errors(InputError("secret_access_key", "must not be empty"), fields)
    assert "server" in field_errors(NotFoundError("server", "nope"), fields)
    assert "_form" in field_errors(InputError("--timezone", "unknown"), fields)


def test_it_marks_failed_runs_in_the_chart_and_scales_to_the_largest() -> None:
    t = datetime(2025, 1, 1, tzinfo=UTC)
    runs = [
        RunView("a", "success", "cron", t, t, 0, 10, 1000, 0, 0, {}),
        RunView("b", "failed", "cron", t, t, 7, 0, 0, 0, 1, {}),
        RunView("c", "success", "cron", t, t, 0, 5, 500, 0, 0, {}),
    ]
    chart = run_chart(runs)
    assert chart is not None
    assert [b.failed for b in chart.bars] == [False, True, False]
    assert chart.bars[0].height == 2 * chart.bars[2].height
    assert chart.max_files == 10 and run_chart([]) is None


def test_a_job_row_shows_its_scheduled_verification_as_a_badge() -> None:
    from ctrlops.services.overview import Health, JobRow
    from ctrlops.web.render import TEMPLATES

    t = datetime.now(UTC)
    row = JobRow("site", "web1", "d", None, "manual only", "UTC", Health("green", "", True),
                 None, None, None, t)  # fmt: skip
    template = TEMPLATES.env.get_template("partials/job_row.html")

    def badge(verify: dict[str, object] | None) -> str:
        return template.render(job=replace(row, verify=verify), view="overview")

    assert "data-verify" not in badge(None)
    green = badge({"signal": "green", "cause": "", "finished": t.isoformat()})
    assert 'data-verify="green"' in green and re.search(r"verified \d+ s ago", green)
    red = badge({"signal": "red", "cause": "2 files differ at the destination"})
    assert 'data-verify="red"' in red and "2 files differ at the destination" in red

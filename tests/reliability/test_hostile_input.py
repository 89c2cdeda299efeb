"""Hostile input: every value is either refused naming its field or kept exactly."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrlops.errors import InputError
from ctrlops.rclone.providers import DestinationSpec
from ctrlops.server.spec import parse_spec
from ctrlops.services import destinations, jobs, servers

NASTY = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["$(touch /tmp/x)", "`id`", "a;b", "a\nb", "a'b\"c", "-rf", "..", "%p"]).map(
        lambda s: "/srv/" + s
    ),
)


@pytest.fixture
def known() -> None:
    servers.add(parse_spec(name="here", local=True))
    destinations.add(
        DestinationSpec(
            name="d",
            provider="minio",
            bucket="bucket-1",
            endpoint="http://127.0.0.1:9",
            access_key_id="AKIDEXAMPLE",
        ),
        "secret-value-1234",
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(source=NASTY, exclude=NASTY, prefix=st.text(max_size=100), name=st.text(max_size=80))
def test_a_job_is_refused_naming_the_field_or_kept_exactly(
    known: None, source: str, exclude: str, prefix: str, name: str
) -> None:
    try:
        info = jobs.spec(
            name or "n",
            server="here",
            sources=[source],
            dest="d",
            excludes=[exclude],
            prefix=prefix,
        )
    except InputError as e:
        assert e.field in {"name", "--source", "--exclude", "--prefix"}, e.field
        assert e.reason
        return
    assert info.name == (name or "n")
    assert info.sources == [source.rstrip("/") or "/"] or info.sources == [source]
    assert info.excludes == [exclude]
    assert info.prefix == prefix.strip("/")

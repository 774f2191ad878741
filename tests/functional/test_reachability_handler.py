"""The ``reachability`` Lambda, called in-process with its console event rewritten to a moto account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dropsleuth.functions import catalog
from dropsleuth.handlers.reachability import handler
from tests.support import site_behind_a_vpn

EVENT = Path(__file__).resolve().parents[2] / "events" / "reachability.json"


class _Context:
    function_name = "reachability"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:reachability"
    aws_request_id = "test-request"


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(EVENT.read_text())
    event.update(changes)
    return event


def test_console_event_on_a_site_behind_a_vpn(aws: None) -> None:
    site = site_behind_a_vpn("192.168.50.0/24", admit_site_port=443)
    vpc, eni = site.vpc_id, site.eni_id
    response = handler(_event(vpc_id=vpc, destination={"eni_id": eni}), _Context())
    assert response["ok"] is True
    assert response["path"]["verdict"] == "pmtud_blackhole"
    assert [h["kind"] for h in response["path"]["hops"]] == ["site", "vpn", "eni"]
    # moto has no Reachability Analyzer: the static verdict answers, and says so.
    assert response["reachability"]["mode"] == "static"
    assert response["reachability"]["reachable"] is True


def test_static_verdict_blames_the_security_group_that_drops_the_site(aws: None) -> None:
    # Given the default security group only, which admits nothing from the site
    site = site_behind_a_vpn("192.168.50.0/24")
    vpc, eni = site.vpc_id, site.eni_id
    response = handler(_event(vpc_id=vpc, destination={"eni_id": eni}), _Context())
    verdict = response["reachability"]
    assert verdict["mode"] == "static"
    assert verdict["reachable"] is False
    (finding,) = verdict["findings"]
    assert finding["code"] == "FLOW_REJECTED"
    assert eni in finding["resource_ids"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vpc_id": "vpc_nope"}, "vpc_id"),
        ({"port": 0}, "port"),
        ({"source": {"ip": "1.2.3.4", "cidr": "1.2.3.0/24"}}, "source"),
        ({"mode": "maybe"}, "mode"),
        ({"mss_clamp": 100}, "mss_clamp"),
        ({"reachability_timeout_s": 0}, "reachability_timeout_s"),
        ({"reachability_timeout_s": 600}, "reachability_timeout_s"),
    ],
)
def test_bad_events_name_the_field(change: dict[str, Any], field: str) -> None:
    response = handler(_event(**change), _Context())
    assert response["ok"] is False
    assert response["error"]["type"] == "ValidationError"
    assert response["error"]["field"].startswith(field)


@pytest.mark.parametrize(("clamp", "verdict"), [(1366, "ok"), (1400, "pmtud_blackhole")])
def test_an_mss_clamp_in_the_event_covers_the_vpn_only_when_small_enough(
    aws: None, clamp: int, verdict: str
) -> None:
    site = site_behind_a_vpn("192.168.50.0/24", admit_site_port=443)
    vpc, eni = site.vpc_id, site.eni_id
    response = handler(
        _event(vpc_id=vpc, destination={"eni_id": eni}, mss_clamp=clamp, reachability_timeout_s=30),
        _Context(),
    )
    assert response["ok"] is True
    assert response["path"]["packet_size"] == clamp + 40
    assert response["path"]["verdict"] == verdict


def test_catalog_lists_the_function_with_its_permissions() -> None:
    spec = catalog()["reachability"]
    assert "ec2:CreateNetworkInsightsPath" in spec.actions
    assert "ec2:DeleteNetworkInsightsPath" in spec.actions
    assert "ec2:DescribeRouteTables" in spec.actions


def test_step_outcome_for_an_investigation(aws: None) -> None:
    from datetime import UTC, datetime, timedelta

    from dropsleuth.aws.reachability import reachability_outcome
    from dropsleuth.context import Endpoint, InvestigationContext, Window

    site = site_behind_a_vpn("192.168.50.0/24")
    vpc, eni = site.vpc_id, site.eni_id
    now = datetime.now(UTC)
    context = InvestigationContext(
        vpc_id=vpc,
        source=Endpoint(cidr="192.168.50.0/24"),
        destination=Endpoint(eni_id=eni),
        window=Window(start=now - timedelta(hours=1), end=now),
    )
    outcome = reachability_outcome(context)
    assert outcome.data["mode"] == "static"
    assert outcome.data["reachable"] is False
    assert [f.code.value for f in outcome.findings] == ["FLOW_REJECTED"]

"""The investigation's reachability step runs Reachability Analyzer, and falls back to the static verdict.

moto has no Reachability Analyzer, so the EC2 client the step gets is wrapped in botocore's Stubber: the
topology reads answer with the responses moto gave for the same calls on a real moto account (recorded
first, replayed in the same order), and the Reachability Analyzer calls answer with responses in the EC2
service model's shapes (the Stubber validates both). ``assert_no_pending_responses`` proves the step made
every call queued — the deletes included — and no more.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.stub import ANY, Stubber

from dropsleuth.aws import clients
from dropsleuth.aws.topology import collect_topology
from dropsleuth.config import Settings
from dropsleuth.context import Endpoint, InvestigationContext, Window
from dropsleuth.investigate import investigate
from dropsleuth.model import FindingCode, Report, StepStatus
from dropsleuth.steps import StepEnvironment
from dropsleuth.steps.reachability import STEP
from tests.support import site_behind_a_vpn

SITE = "192.168.50.0/24"
PATH_ID, ANALYSIS_ID = "nip-0123456789abcdef0", "nia-0123456789abcdef0"
STARTED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

Calls = list[tuple[str, dict[str, Any]]]
Account = tuple[InvestigationContext, Calls, str, str]
"""The context (site → instance), the recorded topology calls, the instance's SG, the VPN gateway."""


def _recorded_topology_calls(vpc_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The (operation, response) pairs moto gives for the topology read of ``vpc_id``, in call order."""
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    calls: list[tuple[str, dict[str, Any]]] = []

    def keep(model: Any, parsed: dict[str, Any], **_: Any) -> None:
        calls.append((xform_name(model.name), copy.deepcopy(parsed)))

    ec2.meta.events.register("after-call.ec2", keep)
    collect_topology(vpc_id, ec2=ec2)
    return calls


@pytest.fixture
def account(aws: None) -> Account:
    site = site_behind_a_vpn(SITE)
    vpc, eni, group, vgw = site.vpc_id, site.eni_id, site.group_id, site.vgw_id
    now = datetime.now(UTC)
    context = InvestigationContext(
        vpc_id=vpc,
        source=Endpoint(cidr=SITE),
        destination=Endpoint(eni_id=eni),
        window=Window(start=now - timedelta(hours=1), end=now),
        source_mtu=9000,
    )
    return context, _recorded_topology_calls(vpc), group, vgw


@pytest.fixture
def stubbed_ec2(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stubber, list[str]]]:
    """The EC2 client every adapter gets from ``clients.ec2()``, stubbed; and the operations it was asked."""
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    asked: list[str] = []
    ec2.meta.events.register("before-parameter-build.ec2", lambda model, **_: asked.append(model.name))
    monkeypatch.setattr(clients, "ec2", lambda: ec2)
    with Stubber(ec2) as stub:
        yield stub, asked


def _replay(stub: Stubber, calls: list[tuple[str, dict[str, Any]]]) -> None:
    for operation, response in calls:
        stub.add_response(operation, response)


def _analysis_runs(stub: Stubber, vgw: str, eni: str, group: str) -> None:
    """No recent analysis to reuse; create, start, poll (done: not found, the SG), delete both."""
    stub.add_response("describe_network_insights_paths", {"NetworkInsightsPaths": []}, {"Filters": ANY})
    stub.add_response(
        "create_network_insights_path",
        {
            "NetworkInsightsPath": {
                "NetworkInsightsPathId": PATH_ID,
                "Source": vgw,
                "Destination": eni,
                "SourceIp": "192.168.50.0",
                "Protocol": "tcp",
                "DestinationPort": 443,
                "CreatedDate": STARTED,
            }
        },
        {
            "Source": vgw,
            "Destination": eni,
            "SourceIp": ANY,
            "Protocol": "tcp",
            "DestinationPort": 443,
            "TagSpecifications": ANY,
        },
    )
    stub.add_response(
        "start_network_insights_analysis",
        {
            "NetworkInsightsAnalysis": {
                "NetworkInsightsAnalysisId": ANALYSIS_ID,
                "NetworkInsightsPathId": PATH_ID,
                "StartDate": STARTED,
                "Status": "running",
            }
        },
        {"NetworkInsightsPathId": PATH_ID, "TagSpecifications": ANY},
    )
    stub.add_response(
        "describe_network_insights_analyses",
        {
            "NetworkInsightsAnalyses": [
                {
                    "NetworkInsightsAnalysisId": ANALYSIS_ID,
                    "NetworkInsightsPathId": PATH_ID,
                    "StartDate": STARTED,
                    "Status": "succeeded",
                    "NetworkPathFound": False,
                    "Explanations": [
                        {
                            "ExplanationCode": "ENI_SG_RULES_MISMATCH",
                            "Direction": "ingress",
                            "NetworkInterface": {"Id": eni},
                            "SecurityGroups": [{"Id": group}],
                        }
                    ],
                }
            ]
        },
        {"NetworkInsightsAnalysisIds": [ANALYSIS_ID]},
    )
    stub.add_response(
        "delete_network_insights_analysis",
        {"NetworkInsightsAnalysisId": ANALYSIS_ID},
        {"NetworkInsightsAnalysisId": ANALYSIS_ID},
    )
    stub.add_response(
        "delete_network_insights_path", {"NetworkInsightsPathId": PATH_ID}, {"NetworkInsightsPathId": PATH_ID}
    )


def _investigate(context: InvestigationContext, *, mode: str = "auto", max_analyses: int = 2) -> Report:
    environment = StepEnvironment(
        settings=Settings(max_reachability_analyses=max_analyses), reachability=mode
    )
    return investigate(context, steps=[STEP], environment=environment)


def _reachability_step(report: Report) -> Any:
    return next(s for s in report.steps if s.name == "reachability")


def test_investigation_runs_reachability_analyzer_and_deletes_what_it_created(
    account: Account,
    stubbed_ec2: tuple[Stubber, list[str]],
) -> None:
    context, topology_calls, group, vgw = account
    stub, asked = stubbed_ec2
    eni = context.destination.eni_id
    assert eni is not None
    _replay(stub, topology_calls)
    _analysis_runs(stub, vgw, eni, group)

    report = _investigate(context)

    stub.assert_no_pending_responses()
    assert asked[-2:] == ["DeleteNetworkInsightsAnalysis", "DeleteNetworkInsightsPath"]
    step = _reachability_step(report)
    assert step.status is StepStatus.OK, step.reason
    assert any("(Reachability Analyzer): NOT reachable" in line for line in step.data["checked"])
    blocked = [f for f in report.findings if f.code is FindingCode.FLOW_REJECTED]
    assert blocked, [f.code for f in report.findings]
    assert group in blocked[0].resource_ids
    assert "ENI_SG_RULES_MISMATCH" in blocked[0].title


def test_refused_analyzer_falls_back_to_the_static_verdict_and_says_so(
    account: Account,
    stubbed_ec2: tuple[Stubber, list[str]],
) -> None:
    context, topology_calls, group, _vgw = account
    stub, asked = stubbed_ec2
    _replay(stub, topology_calls)
    stub.add_client_error(
        "describe_network_insights_paths",
        service_error_code="UnauthorizedOperation",
        service_message="You are not authorized to perform this operation.",
        http_status_code=403,
    )

    report = _investigate(context)

    stub.assert_no_pending_responses()
    assert "CreateNetworkInsightsPath" not in asked
    step = _reachability_step(report)
    assert step.status is StepStatus.OK, step.reason
    checked = " | ".join(step.data["checked"])
    assert "static analysis" in checked
    assert "Reachability Analyzer not used" in checked
    assert "UnauthorizedOperation" in checked
    # The static verdict is a real analysis: the instance's security group does not admit the site.
    blocked = [f for f in report.findings if f.code is FindingCode.FLOW_REJECTED]
    assert blocked
    assert group in blocked[0].resource_ids


def test_spent_budget_answers_statically_without_starting_an_analysis(
    account: Account,
    stubbed_ec2: tuple[Stubber, list[str]],
) -> None:
    context, topology_calls, _group, _vgw = account
    stub, asked = stubbed_ec2
    _replay(stub, topology_calls)
    stub.add_response("describe_network_insights_paths", {"NetworkInsightsPaths": []}, {"Filters": ANY})

    report = _investigate(context, max_analyses=0)

    stub.assert_no_pending_responses()
    assert "StartNetworkInsightsAnalysis" not in asked
    checked = " | ".join(_reachability_step(report).data["checked"])
    assert "max_reachability_analyses" in checked


def test_aws_mode_fails_the_step_instead_of_falling_back(
    account: Account,
    stubbed_ec2: tuple[Stubber, list[str]],
) -> None:
    context, topology_calls, _group, _vgw = account
    stub, _asked = stubbed_ec2
    _replay(stub, topology_calls)
    stub.add_client_error(
        "describe_network_insights_paths", service_error_code="UnauthorizedOperation", http_status_code=403
    )

    report = _investigate(context, mode="aws")

    step = _reachability_step(report)
    assert step.status is StepStatus.FAILED
    assert step.reason.startswith("access_denied UnauthorizedOperation")
    assert any(f.code is FindingCode.STEP_FAILED and "reachability" in f.title for f in report.findings)

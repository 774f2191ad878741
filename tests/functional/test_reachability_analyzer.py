"""Reachability Analyzer adapter with botocore's Stubber (moto has no such API), and its static fallback.

Every stubbed response is validated by botocore against the EC2 service model, so the shapes are the real
ones. Each test ends with ``assert_no_pending_responses``: the deletes of what was created were made.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from dropsleuth.aws.errors import (
    AccessDeniedError,
    AwsError,
    AwsTimeoutError,
    ServerError,
    ThrottledError,
    UnsupportedError,
    translate,
)
from dropsleuth.aws.permissions import TOOLKIT_TAG_KEY, TOOLKIT_TAG_VALUE, record_api_calls
from dropsleuth.aws.reachability import (
    PERMISSIONS,
    AnalysisBudgetExceededError,
    AwsReachabilityAnalyzer,
    analyse_reachability,
)
from dropsleuth.config import ConfigError, load_settings
from dropsleuth.model import FindingCode
from dropsleuth.rules.path import End, Topology, analyse_path

SRC, DST, PORT = "eni-0aaaaaaaaaaaaaaa1", "eni-0bbbbbbbbbbbbbbb2", 443
PATH_ID, ANALYSIS_ID = "nip-0123456789abcdef0", "nia-0123456789abcdef0"
STARTED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# Tagged on create: the role may delete only what carries this tag (aws:ResourceTag condition).
TOOLKIT_TAGS = [{"Key": TOOLKIT_TAG_KEY, "Value": TOOLKIT_TAG_VALUE}]


class FakeTime:
    """A clock the analyzer's sleeps advance (no real waiting, and the timeout is exercised)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def ec2() -> Any:
    return boto3.client("ec2", region_name="eu-west-1")


def _analyzer(ec2: Any, time: FakeTime, **kwargs: Any) -> AwsReachabilityAnalyzer:
    return AwsReachabilityAnalyzer(ec2=ec2, sleep=time.sleep, clock=time.clock, **kwargs)


def _no_recent(stub: Stubber) -> None:
    stub.add_response("describe_network_insights_paths", {"NetworkInsightsPaths": []}, {"Filters": ANY})


def _create(stub: Stubber) -> None:
    stub.add_response(
        "create_network_insights_path",
        {
            "NetworkInsightsPath": {
                "NetworkInsightsPathId": PATH_ID,
                "Source": SRC,
                "Destination": DST,
                "Protocol": "tcp",
                "DestinationPort": PORT,
                "CreatedDate": STARTED,
            }
        },
        {
            "Source": SRC,
            "Destination": DST,
            "Protocol": "tcp",
            "DestinationPort": PORT,
            "TagSpecifications": [{"ResourceType": "network-insights-path", "Tags": TOOLKIT_TAGS}],
        },
    )


def _start(stub: Stubber) -> None:
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
        {
            "NetworkInsightsPathId": PATH_ID,
            "TagSpecifications": [{"ResourceType": "network-insights-analysis", "Tags": TOOLKIT_TAGS}],
        },
    )


def _status(stub: Stubber, status: str, **extra: Any) -> None:
    stub.add_response(
        "describe_network_insights_analyses",
        {
            "NetworkInsightsAnalyses": [
                {
                    "NetworkInsightsAnalysisId": ANALYSIS_ID,
                    "NetworkInsightsPathId": PATH_ID,
                    "StartDate": STARTED,
                    "Status": status,
                    **extra,
                }
            ]
        },
        {"NetworkInsightsAnalysisIds": [ANALYSIS_ID]},
    )


def _delete_analysis(stub: Stubber) -> None:
    stub.add_response(
        "delete_network_insights_analysis",
        {"NetworkInsightsAnalysisId": ANALYSIS_ID},
        {"NetworkInsightsAnalysisId": ANALYSIS_ID},
    )


def _delete_path(stub: Stubber) -> None:
    stub.add_response(
        "delete_network_insights_path", {"NetworkInsightsPathId": PATH_ID}, {"NetworkInsightsPathId": PATH_ID}
    )


def test_path_found_and_everything_deleted(ec2: Any) -> None:
    time = FakeTime()
    with Stubber(ec2) as stub:
        _no_recent(stub)
        _create(stub)
        _start(stub)
        _status(stub, "running")
        _status(stub, "succeeded", NetworkPathFound=True)
        _delete_analysis(stub)
        _delete_path(stub)
        result = _analyzer(ec2, time).analyse(SRC, DST, PORT)
        stub.assert_no_pending_responses()
    assert result.mode == "aws"
    assert result.reachable is True
    assert result.findings == ()
    assert time.sleeps == [1.0]  # polled once more after one back-off


def test_the_adapter_calls_only_declared_actions() -> None:
    """The calls of a whole analysis (reuse check, create, poll, cleanup) are all declared."""
    with record_api_calls() as recorder:
        client = boto3.client("ec2", region_name="eu-west-1")  # made inside: the recorder hooks it
        with Stubber(client) as stub:
            _no_recent(stub)
            _create(stub)
            _start(stub)
            _status(stub, "succeeded", NetworkPathFound=True)
            _delete_analysis(stub)
            _delete_path(stub)
            _analyzer(client, FakeTime()).analyse(SRC, DST, PORT)
            stub.assert_no_pending_responses()
    assert "ec2:DeleteNetworkInsightsPath" in recorder.actions
    assert recorder.actions <= PERMISSIONS.actions, recorder.actions - PERMISSIONS.actions


def test_not_found_maps_explanations_to_findings_with_blocking_ids(ec2: Any) -> None:
    explanations = [
        {
            "ExplanationCode": "ENI_SG_RULES_MISMATCH",
            "Direction": "ingress",
            "NetworkInterface": {
                "Id": DST,
                "Arn": f"arn:aws:ec2:eu-west-1:123456789012:network-interface/{DST}",
            },
            "SecurityGroups": [{"Id": "sg-0123456789abcdef0"}],
        },
        {"ExplanationCode": "CANNOT_ROUTE", "RouteTable": {"Id": "rtb-0123456789abcdef0"}},
    ]
    time = FakeTime()
    with Stubber(ec2) as stub:
        _no_recent(stub)
        _create(stub)
        _start(stub)
        _status(stub, "succeeded", NetworkPathFound=False, Explanations=explanations)
        _delete_analysis(stub)
        _delete_path(stub)
        result = _analyzer(ec2, time).analyse(SRC, DST, PORT)
        stub.assert_no_pending_responses()
    assert result.reachable is False
    rejected, unroutable = result.findings
    assert rejected.code is FindingCode.FLOW_REJECTED
    assert set(rejected.resource_ids) == {DST, "sg-0123456789abcdef0"}
    assert unroutable.code is FindingCode.NO_ROUTE
    assert unroutable.resource_ids == ("rtb-0123456789abcdef0",)


def test_failed_analysis_raises_and_still_deletes(ec2: Any) -> None:
    with Stubber(ec2) as stub:
        _no_recent(stub)
        _create(stub)
        _start(stub)
        _status(stub, "failed", StatusMessage="Internal error")
        _delete_analysis(stub)
        _delete_path(stub)
        with pytest.raises(AwsError, match="Internal error"):
            _analyzer(ec2, FakeTime()).analyse(SRC, DST, PORT)
        stub.assert_no_pending_responses()


def test_poll_timeout_raises_and_still_deletes(ec2: Any) -> None:
    time = FakeTime()
    with Stubber(ec2) as stub:
        _no_recent(stub)
        _create(stub)
        _start(stub)
        for _ in range(3):
            _status(stub, "running")
        _delete_analysis(stub)
        _delete_path(stub)
        with pytest.raises(AwsTimeoutError):
            _analyzer(ec2, time, timeout_s=3.0).analyse(SRC, DST, PORT)
        stub.assert_no_pending_responses()
    assert time.sleeps == [1.0, 2.0]  # exponential back-off, stopped before overrunning the timeout


def test_throttled_start_deletes_the_created_path(ec2: Any) -> None:
    with Stubber(ec2) as stub:
        _no_recent(stub)
        _create(stub)
        stub.add_client_error(
            "start_network_insights_analysis", service_error_code="RequestLimitExceeded", http_status_code=503
        )
        _delete_path(stub)
        with pytest.raises(ThrottledError):
            _analyzer(ec2, FakeTime()).analyse(SRC, DST, PORT)
        stub.assert_no_pending_responses()


def test_access_denied_creates_nothing_and_auto_falls_back_to_static(ec2: Any) -> None:
    topology = _small_topology()
    path = analyse_path(topology, End(eni_id=SRC), End(eni_id=DST))
    with Stubber(ec2) as stub:
        stub.add_client_error(
            "describe_network_insights_paths",
            service_error_code="UnauthorizedOperation",
            http_status_code=403,
        )
        with pytest.raises(AccessDeniedError):
            _analyzer(ec2, FakeTime()).analyse(SRC, DST, PORT)
        stub.add_client_error(
            "describe_network_insights_paths",
            service_error_code="UnauthorizedOperation",
            http_status_code=403,
        )
        result = analyse_reachability(path, topology, analyzer=_analyzer(ec2, FakeTime()))
        stub.assert_no_pending_responses()
    assert result.mode == "static"
    assert result.reachable is True
    assert "UnauthorizedOperation" in result.note


def test_a_recent_analysis_of_the_same_path_is_reused(ec2: Any) -> None:
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_network_insights_paths",
            {"NetworkInsightsPaths": [{"NetworkInsightsPathId": PATH_ID, "Source": SRC, "Destination": DST}]},
            {"Filters": ANY},
        )
        stub.add_response(
            "describe_network_insights_analyses",
            {
                "NetworkInsightsAnalyses": [
                    {
                        "NetworkInsightsAnalysisId": ANALYSIS_ID,
                        "StartDate": STARTED,
                        "Status": "succeeded",
                        "NetworkPathFound": True,
                    }
                ]
            },
            {"NetworkInsightsPathId": PATH_ID, "AnalysisStartTime": ANY},
        )
        analyzer = _analyzer(ec2, FakeTime())
        first = analyzer.analyse(SRC, DST, PORT)
        again = analyzer.analyse(SRC, DST, PORT)  # served from the analyzer's own cache: no call
        stub.assert_no_pending_responses()
    assert first.reused is True
    assert again.reused is True
    assert analyzer.started == 0


def test_cost_guard_stops_at_the_configured_number(ec2: Any) -> None:
    analyzer = _analyzer(ec2, FakeTime(), max_analyses=0)
    with Stubber(ec2) as stub:
        _no_recent(stub)
        with pytest.raises(AnalysisBudgetExceededError):
            analyzer.analyse(SRC, DST, PORT)
        stub.assert_no_pending_responses()


def _small_topology(*, deny_https: bool = False) -> Topology:
    entries: list[dict[str, Any]] = [
        {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": e, "CidrBlock": "0.0.0.0/0"}
        for e in (False, True)
    ]
    if deny_https:
        entries.insert(
            0,
            {
                "RuleNumber": 10,
                "Protocol": "6",
                "RuleAction": "deny",
                "Egress": False,
                "CidrBlock": "0.0.0.0/0",
                "PortRange": {"From": 443, "To": 443},
            },
        )
    return Topology(
        vpc_id="vpc-1",
        vpcs=({"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16"},),
        subnets=(
            {"SubnetId": "subnet-a", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"},
            {"SubnetId": "subnet-b", "VpcId": "vpc-1", "CidrBlock": "10.0.2.0/24"},
        ),
        route_tables=(
            {
                "RouteTableId": "rtb-main",
                "VpcId": "vpc-1",
                "Associations": [{"Main": True}],
                "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}],
            },
        ),
        network_acls=(
            {"NetworkAclId": "acl-a", "Entries": entries[-2:], "Associations": [{"SubnetId": "subnet-a"}]},
            {"NetworkAclId": "acl-b", "Entries": entries, "Associations": [{"SubnetId": "subnet-b"}]},
        ),
        network_interfaces=(
            {"NetworkInterfaceId": SRC, "SubnetId": "subnet-a", "PrivateIpAddress": "10.0.1.5", "Groups": []},
            {
                "NetworkInterfaceId": DST,
                "SubnetId": "subnet-b",
                "PrivateIpAddress": "10.0.2.5",
                "Groups": [{"GroupId": "sg-web"}],
            },
        ),
        security_groups=(
            {
                "GroupId": "sg-web",
                "IpPermissions": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 443,
                        "ToPort": 443,
                        "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
                    }
                ],
            },
        ),
    )


@pytest.mark.parametrize(
    ("deny_https", "port", "reachable"), [(False, 443, True), (True, 443, False), (False, 22, False)]
)
def test_static_verdict_reads_nacls_and_security_groups(deny_https: bool, port: int, reachable: bool) -> None:
    topology = _small_topology(deny_https=deny_https)
    path = analyse_path(topology, End(eni_id=SRC), End(eni_id=DST), port=port)
    result = analyse_reachability(path, topology, mode="static")
    assert result.mode == "static"
    assert result.reachable is reachable
    assert bool(result.findings) is not reachable


def test_moto_has_no_reachability_analyzer_so_auto_is_static(aws: None) -> None:
    # Given a real (moto) EC2 endpoint without the Reachability Analyzer API
    topology = _small_topology()
    path = analyse_path(topology, End(eni_id=SRC), End(eni_id=DST))
    result = analyse_reachability(path, topology)
    assert result.mode == "static"
    assert "not implemented" in result.note
    with pytest.raises(AwsError):
        analyse_reachability(path, topology, mode="aws")


# --- cleanup when a delete fails, errors after the path exists, throttling while polling ----------------


def test_a_failing_delete_is_recorded_and_the_other_resource_still_deleted(ec2: Any) -> None:
    with Stubber(ec2) as stub:
        _no_recent(stub)
        _create(stub)
        _start(stub)
        _status(stub, "succeeded", NetworkPathFound=True)
        stub.add_client_error(
            "delete_network_insights_analysis",
            service_error_code="UnauthorizedOperation",
            service_message="You are not authorized to perform this operation.",
            http_status_code=403,
            expected_params={"NetworkInsightsAnalysisId": ANALYSIS_ID},
        )
        _delete_path(stub)
        result = _analyzer(ec2, FakeTime()).analyse(SRC, DST, PORT)
        stub.assert_no_pending_responses()
    assert result.reachable is True  # the verdict survives the failed cleanup
    (error,) = result.cleanup_errors
    assert error.startswith(ANALYSIS_ID)
    assert "UnauthorizedOperation" in error


def test_a_failing_path_delete_after_a_failed_analysis_keeps_the_analysis_error(ec2: Any) -> None:
    with Stubber(ec2) as stub:
        _no_recent(stub)
        _create(stub)
        _start(stub)
        _status(stub, "failed", StatusMessage="Internal error")
        _delete_analysis(stub)
        stub.add_client_error(
            "delete_network_insights_path",
            service_error_code="InvalidNetworkInsightsPathId.NotFound",
            http_status_code=400,
            expected_params={"NetworkInsightsPathId": PATH_ID},
        )
        with pytest.raises(AwsError, match="Internal error"):
            _analyzer(ec2, FakeTime()).analyse(SRC, DST, PORT)
        stub.assert_no_pending_responses()


def test_access_denied_on_start_still_deletes_the_created_path(ec2: Any) -> None:
    topology = _small_topology()
    path = analyse_path(topology, End(eni_id=SRC), End(eni_id=DST))
    with Stubber(ec2) as stub:
        for _ in range(2):
            _no_recent(stub)
            _create(stub)
            stub.add_client_error(
                "start_network_insights_analysis",
                service_error_code="UnauthorizedOperation",
                http_status_code=403,
            )
            _delete_path(stub)
        with pytest.raises(AccessDeniedError):
            _analyzer(ec2, FakeTime()).analyse(SRC, DST, PORT)
        result = analyse_reachability(path, topology, analyzer=_analyzer(ec2, FakeTime()))
        stub.assert_no_pending_responses()
    assert result.mode == "static"
    assert "UnauthorizedOperation" in result.note


def test_throttling_while_polling_raises_and_deletes_both(ec2: Any) -> None:
    time = FakeTime()
    with Stubber(ec2) as stub:
        _no_recent(stub)
        _create(stub)
        _start(stub)
        _status(stub, "running")
        stub.add_client_error(
            "describe_network_insights_analyses",
            service_error_code="RequestLimitExceeded",
            service_message="Request limit exceeded.",
            http_status_code=503,
        )
        _delete_analysis(stub)
        _delete_path(stub)
        with pytest.raises(ThrottledError):
            _analyzer(ec2, time).analyse(SRC, DST, PORT)
        stub.assert_no_pending_responses()
    assert time.sleeps == [1.0]


# --- a genuine AWS internal error is a failed analysis, not "API unavailable" -----------------------------


def test_aws_internal_failure_is_a_failed_analysis_labelled_as_such(ec2: Any) -> None:
    topology = _small_topology()
    path = analyse_path(topology, End(eni_id=SRC), End(eni_id=DST))

    def internal_failure_on_start(stub: Stubber) -> None:
        _no_recent(stub)
        _create(stub)
        stub.add_client_error(
            "start_network_insights_analysis",
            service_error_code="InternalFailure",
            service_message="The request processing has failed because of an unknown error.",
            http_status_code=500,
        )
        _delete_path(stub)

    with Stubber(ec2) as stub:
        internal_failure_on_start(stub)
        with pytest.raises(ServerError):
            analyse_reachability(path, topology, mode="aws", analyzer=_analyzer(ec2, FakeTime()))
        internal_failure_on_start(stub)
        result = analyse_reachability(path, topology, analyzer=_analyzer(ec2, FakeTime()))
        stub.assert_no_pending_responses()
    assert result.mode == "static"
    assert result.note.startswith(
        "Reachability Analyzer analysis failed (AWS internal error, InternalFailure)"
    )
    assert "not used" not in result.note


@pytest.mark.parametrize(
    ("code", "message", "status", "kind"),
    [
        (
            "InternalFailure",
            "The request processing has failed because of an unknown error.",
            500,
            ServerError,
        ),
        ("InternalError", "An internal error has occurred", 500, ServerError),
        ("ServiceUnavailable", "Service is unavailable", 503, ServerError),
        # LocalStack-style: an internal-error code whose message says the action does not exist
        (
            "InternalFailure",
            "API action 'CreateNetworkInsightsPath' not yet implemented",
            501,
            UnsupportedError,
        ),
        ("InternalFailure", "The describe action has not been implemented", 500, UnsupportedError),
        ("UnknownOperationException", "Unknown operation", 400, UnsupportedError),
        ("InvalidAction", "The action is not valid for this web service.", 400, UnsupportedError),
    ],
)
def test_internal_errors_and_missing_actions_are_told_apart(
    code: str, message: str, status: int, kind: type[Exception]
) -> None:
    error = ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "StartNetworkInsightsAnalysis",
    )
    assert type(translate(error)) is kind


def test_moto_server_answers_with_an_html_500_which_is_unsupported(moto_endpoint: str) -> None:
    # Given the real moto_server, which answers actions it lacks with an HTML "500 Internal Server Error"
    from dropsleuth.aws import clients

    topology = _small_topology()
    path = analyse_path(topology, End(eni_id=SRC), End(eni_id=DST))
    analyzer = AwsReachabilityAnalyzer(ec2=clients.ec2(), sleep=FakeTime().sleep)
    with pytest.raises(UnsupportedError, match="non-AWS HTTP 500"):
        analyzer.analyse(SRC, DST, PORT)
    result = analyse_reachability(path, topology, analyzer=analyzer)
    assert result.mode == "static"
    assert result.note.startswith("Reachability Analyzer not used")


# --- the poll timeout from the environment ----------------------------------------------------------------


def test_poll_timeout_comes_from_the_environment_and_is_validated() -> None:
    assert load_settings({}).reachability_timeout_s == 60.0
    assert load_settings({"DROPSLEUTH_REACHABILITY_TIMEOUT_S": "12.5"}).reachability_timeout_s == 12.5
    for bad in ("0", "-3", "soon", "901"):
        with pytest.raises(ConfigError, match="reachability_timeout_s"):
            load_settings({"DROPSLEUTH_REACHABILITY_TIMEOUT_S": bad})

"""The ground: the report contract, the client factory, IAM declarations, configuration, the site registry."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import (
    AccessDeniedError,
    AwsTimeoutError,
    InputError,
    NotFoundError,
    ThrottledError,
    UnsupportedError,
    translate,
)
from dropsleuth.aws.permissions import declare, iam_action
from dropsleuth.config import ConfigError, load_settings
from dropsleuth.model import (
    REPORT_SCHEMA_VERSION,
    Evidence,
    Finding,
    FindingCode,
    Remediation,
    Report,
    Severity,
    Step,
    StepStatus,
    rank_findings,
)
from dropsleuth.sites import parse_registry


def finding(code: FindingCode, severity: Severity, confidence: float) -> Finding:
    return Finding(
        code=code,
        severity=severity,
        confidence=confidence,
        title=f"{code} title",
        evidence=(
            Evidence(
                kind="nacl_entry", summary="rule 90 denies", resource_ids=("acl-1",), data={"rule_number": 90}
            ),
        ),
        remediation=Remediation(summary="allow it", commands=("aws ec2 …",)),
    )


def test_report_json_round_trip_keeps_everything() -> None:
    report = Report(
        subject={"vpc_id": "vpc-1"},
        findings=rank_findings(
            [
                finding(FindingCode.SG_MISSING_ICMP_FRAG_NEEDED, Severity.WARNING, 0.4),
                finding(FindingCode.PMTUD_BLACKHOLE, Severity.CRITICAL, 0.9),
            ]
        ),
        steps=(Step(name="audit", status=StepStatus.FAILED, reason="AccessDenied", duration_s=0.2),),
        checked=("NACL acl-1",),
        created_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
    )
    text = report.to_json()
    assert json.loads(text)["schema_version"] == REPORT_SCHEMA_VERSION
    again = Report.from_json(text)
    assert again == report
    assert again.top_finding is not None
    assert again.top_finding.code is FindingCode.PMTUD_BLACKHOLE


def test_ranking_orders_by_severity_then_confidence() -> None:
    ranked = rank_findings(
        [
            finding(FindingCode.MTU_MISMATCH, Severity.HIGH, 0.9),
            finding(FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED, Severity.HIGH, 0.95),
            finding(FindingCode.PMTUD_BLACKHOLE, Severity.CRITICAL, 0.5),
        ]
    )
    assert [f.code for f in ranked] == [
        FindingCode.PMTUD_BLACKHOLE,
        FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED,
        FindingCode.MTU_MISMATCH,
    ]


def test_the_finding_codes_of_the_design_are_all_there() -> None:
    design = {
        "PMTUD_BLACKHOLE",
        "NACL_BLOCKS_ICMP_FRAG_NEEDED",
        "SG_MISSING_ICMP_FRAG_NEEDED",
        "MTU_MISMATCH",
        "INTERFACE_MTU_UNEXPECTED",
        "HOST_FIREWALL_BLOCKS_ICMP",
        "FLOW_REJECTED",
        "THROUGHPUT_COLLAPSE",
        "VPN_TUNNEL_FLAPPING",
        "RECENT_NETWORK_CHANGE",
        "NO_ROUTE",
        "FLOW_LOGS_DISABLED",
        "STEP_FAILED",
    }
    assert design <= {code.value for code in FindingCode}


def test_confidence_outside_zero_to_one_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Finding(code=FindingCode.MTU_MISMATCH, severity=Severity.HIGH, confidence=1.5, title="x")


def test_no_client_is_created_at_import_time() -> None:
    # The X-Ray SDK under Powertools' Tracer makes its own sampling client; every other client must wait
    # for first use.
    code = (
        "import botocore.session as s; made = []; original = s.Session.create_client\n"
        "s.Session.create_client = lambda self, *a, **k: made.append(a) or original(self, *a, **k)\n"
        "import dropsleuth.cli.main, dropsleuth.audit, dropsleuth.functions\n"
        "dropsleuth.functions.catalog(); dropsleuth.cli.main.full_command()\n"
        "print(len([a for a in made if a[0] != 'xray']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "0"


def test_clients_are_cached_and_honour_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    clients.reset()
    first = clients.ec2()
    assert clients.ec2() is first
    assert first.meta.endpoint_url == "http://127.0.0.1:5999"
    clients.configure(region="ap-southeast-2")
    assert clients.ec2() is not first
    assert clients.ec2().meta.region_name == "ap-southeast-2"
    assert clients.region() == "ap-southeast-2"
    clients.configure()


def test_iam_actions_follow_the_service_authorization_reference() -> None:
    assert iam_action("ec2", "DescribeNetworkAcls") == "ec2:DescribeNetworkAcls"
    assert iam_action("s3", "ListObjectsV2") == "s3:ListBucket"
    assert iam_action("s3", "UploadPart") == "s3:PutObject"
    with pytest.raises(ValueError, match="fully spelled"):
        declare("bad", "ec2:Describe*")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("AccessDenied", AccessDeniedError),
        ("UnauthorizedOperation", AccessDeniedError),
        ("ThrottlingException", ThrottledError),
        ("RequestLimitExceeded", ThrottledError),
        ("InvalidVpcID.NotFound", NotFoundError),
        ("NoSuchBucket", NotFoundError),
    ],
)
def test_client_errors_map_to_domain_errors(code: str, kind: type[Exception]) -> None:
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": code, "Message": "m"}}, "DescribeVpcs")
    translated = translate(error)
    assert isinstance(translated, kind)
    assert code in str(translated)


def test_timeouts_and_missing_apis_map_too() -> None:
    from botocore.exceptions import ReadTimeoutError

    assert isinstance(translate(ReadTimeoutError(endpoint_url="http://x")), AwsTimeoutError)
    assert isinstance(translate(NotImplementedError("no RA")), UnsupportedError)


def test_settings_name_the_missing_variable() -> None:
    settings = load_settings({"DROPSLEUTH_REPORT_BUCKET": "b", "DROPSLEUTH_MAX_REACHABILITY_ANALYSES": "3"})
    assert settings.max_reachability_analyses == 3
    with pytest.raises(ConfigError, match="DROPSLEUTH_REPORT_TOPIC_ARN") as missing:
        settings.require("report_bucket", "report_topic_arn")
    assert missing.value.field == "DROPSLEUTH_REPORT_TOPIC_ARN"
    with pytest.raises(ConfigError):
        load_settings({"DROPSLEUTH_MAX_REACHABILITY_ANALYSES": "many"})


def test_site_registry_validation_names_the_field() -> None:
    registry = parse_registry(
        [{"name": "plant-7", "cidrs": ["192.168.50.0/24"], "expected_mtus": {"eno1": 1500}}]
    )
    assert registry.get("plant-7").expected_mtus == {"eno1": 1500}
    with pytest.raises(InputError, match="site"):
        registry.get("plant-8")
    with pytest.raises(InputError) as bad:
        parse_registry({"sites": [{"name": "x", "cidrs": ["10.0.0.0/33"]}]})
    assert bad.value.field == "sites.0.cidrs"

"""IAM Roles Anywhere for on-premises site agents: created only with the ``site_agents`` context, trusted
only from its own trust anchor, allowed exactly what the agent declares (cdk-nag and cfn-lint clean)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cdk.site_agents import AGENT_PERMISSIONS, SITE_TAG, site_agents_from_context
from dropsleuth.aws.permissions import union
from tests.infra.conftest import Synthesized, as_list, flatten

UPLOAD_BUCKET = "plant-upload-health"


@pytest.fixture(scope="module")
def ca_certificate(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real self-signed CA certificate (openssl), as an operator's site CA would give."""
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl to make a CA certificate")
    directory = tmp_path_factory.mktemp("ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(directory / "ca.key"), "-out", str(directory / "ca.pem"), "-days", "2",
         "-subj", "/CN=dropsleuth test site CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return (directory / "ca.pem").read_text().strip()


@pytest.fixture(scope="module")
def with_agents(ca_certificate: str) -> Iterator[Synthesized]:
    from cdk.app import build_app

    outdir = Path(tempfile.mkdtemp(prefix="dropsleuth-cdk-agents-"))
    try:
        context = {"site_agents": {"ca_certificate": ca_certificate, "upload_bucket": UPLOAD_BUCKET}}
        app, stack = build_app(outdir=str(outdir), context=context, specs={})
        assembly = app.synth()
        template = json.loads((Path(assembly.directory) / stack.template_file).read_text())
        yield Synthesized(outdir, template, stack, "")
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


def _one(synth: Synthesized, kind: str) -> dict[str, Any]:
    (resource,) = synth.resources(kind).values()
    return resource


def test_the_trust_anchor_holds_the_ca_and_the_profile_names_the_role(
    with_agents: Synthesized, ca_certificate: str
) -> None:
    anchor = _one(with_agents, "AWS::RolesAnywhere::TrustAnchor")["Properties"]
    assert anchor["Source"] == {
        "SourceType": "CERTIFICATE_BUNDLE",
        "SourceData": {"X509CertificateData": ca_certificate},
    }
    assert anchor["Enabled"] is True
    profile = _one(with_agents, "AWS::RolesAnywhere::Profile")["Properties"]
    role_id = with_agents.logical_id(with_agents.stack.site_agents.role)
    assert [flatten(r) for r in profile["RoleArns"]] == [f"<{role_id}.Arn>"]


def test_only_this_trust_anchor_may_assume_the_role(with_agents: Synthesized) -> None:
    role = with_agents.resource(with_agents.stack.site_agents.role)["Properties"]
    anchor_id = with_agents.logical_id(with_agents.stack.site_agents.trust_anchor)
    granted: set[str] = set()
    for statement in role["AssumeRolePolicyDocument"]["Statement"]:
        assert statement["Principal"] == {"Service": "rolesanywhere.amazonaws.com"}
        assert statement["Condition"] == {
            "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [anchor_id, "TrustAnchorArn"]}}
        }
        granted.update(as_list(statement["Action"]))
    # IAM Roles Anywhere User Guide, "Trust model": the trust policy must grant these three.
    assert granted == {"sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"}


def test_the_policy_allows_exactly_what_the_agent_declares(with_agents: Synthesized) -> None:
    policy = with_agents.resource(with_agents.stack.site_agents.policy)["Properties"]["PolicyDocument"]
    by_action: dict[str, list[dict[str, Any]]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            assert "*" not in action
            by_action.setdefault(action, []).append(statement)
    assert set(by_action) == union(AGENT_PERMISSIONS)
    (metrics,) = by_action["cloudwatch:PutMetricData"]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "DropSleuth"}}
    # The change-record group of the certificate's own site, never another site's.
    for action in ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"):
        (statement,) = by_action[action]
        (resource,) = as_list(statement["Resource"])
        assert f":log-group:/dropsleuth/site-changes/{SITE_TAG}" in flatten(resource)
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"):
        (statement,) = by_action[action]
        assert [flatten(r) for r in as_list(statement["Resource"])] == [
            f"arn:<AWS::Partition>:s3:::{UPLOAD_BUCKET}/dropsleuth-upload-test/{SITE_TAG}/*"
        ]


def test_cdk_nag_and_cfn_lint_pass_with_site_agents(with_agents: Synthesized) -> None:
    from cfnlint.api import lint_all

    report = json.loads((with_agents.outdir / "validation-report.json").read_text())
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []
    ours = [v for v in nag["suppressedViolations"] if "/SiteAgents/" in v["acknowledgedAt"] + "/"]
    assert ours
    assert all(len(v["reason"]) > 20 for v in ours)
    errors = [m for m in lint_all(json.dumps(with_agents.template)) if m.rule.id.startswith("E")]
    assert errors == [], [str(m) for m in errors]


def test_without_the_context_key_nothing_is_created(synthesized: Synthesized) -> None:
    assert synthesized.resources("AWS::RolesAnywhere::TrustAnchor") == {}
    assert synthesized.resources("AWS::RolesAnywhere::Profile") == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"upload_bucket": "b"}, "needs ca_certificate"),
        ({"ca_certificate": "no/such/ca.pem"}, "cannot read"),
        ({"ca_certificate": "-----BEGIN CERTIFICATE-----\nabc"}, "not a PEM certificate"),
        ({"ca_certificate": "x", "bucket": "b"}, "unknown keys"),
    ],
)
def test_a_bad_site_agents_context_names_what_is_wrong(tmp_path: Path, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        site_agents_from_context(value, tmp_path)

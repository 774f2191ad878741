"""Whole-template checks: cdk-nag's verdict and reasons, cfn-lint, and `npx cdk synth` agreeing with tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.infra.conftest import Synthesized, as_list, source_digest

ROOT = Path(__file__).resolve().parents[2]

# cfn-lint warnings we accept: rule id → (why, the only kind of finding the reason covers).
ACCEPTED_WARNINGS = {
    # W3005 "obsolete DependsOn": aws_lambda.Function makes each function depend on its role (so the
    # role's policies exist before the first invocation), and the function also reads the role's ARN
    # (Fn::GetAtt Role.Arn), which implies the same order. CDK writes both; the extra DependsOn is harmless.
    "W3005": (
        "a Lambda function's DependsOn on its own role, implied by its Fn::GetAtt Role.Arn (CDK adds both)",
        re.compile(r"'Investigator\w+Role\w+' dependency already enforced by a 'GetAtt' at "
                   r"'Resources/Investigator\w+Function\w+/Properties/Role'"),
    ),
}  # fmt: skip


def test_cdk_nag_passes_and_every_acknowledgement_has_a_reason(synthesized: Synthesized) -> None:
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []
    assert nag["suppressedViolations"], "expected the reasoned acknowledgements (e.g. the access-log bucket)"
    for suppressed in nag["suppressedViolations"]:
        assert suppressed["reason"].strip(), suppressed["ruleName"]
        assert len(suppressed["reason"]) > 20, suppressed  # a sentence, not a placeholder


def test_each_wildcard_resource_acknowledgement_gives_every_actions_own_reason(
    synthesized: Synthesized,
) -> None:
    """A declared policy's IAM5 acknowledgement for a resource names each action granted on it, with why."""
    from cdk.investigator import nag_resource_name

    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    reasons = {(v["acknowledgedAt"], v["ruleName"]): v["reason"] for v in nag["suppressedViolations"]}
    checked = 0
    for policy in synthesized.stack.investigator.declared_policies.values():
        for statement in synthesized.resource(policy)["Properties"]["PolicyDocument"]["Statement"]:
            actions = as_list(statement["Action"])
            for resource in as_list(statement["Resource"]):
                spelled = nag_resource_name(synthesized.stack, resource)
                if "*" not in spelled:
                    continue
                reason = reasons[(policy.node.path, f"AwsSolutions-IAM5[Resource::{spelled}]")]
                for action in actions:
                    assert re.search(rf"{re.escape(action)}: \w", reason), (action, reason)
                    checked += 1
    assert checked


def test_an_unacknowledged_finding_fails_synth() -> None:
    """The nag plug-in is armed: a bucket without access logs, not acknowledged, stops synthesis."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3

    from cdk.nag import add_checks

    app = App(outdir=tempfile.mkdtemp(prefix="dropsleuth-nag-"))
    s3.Bucket(Stack(app, "Bare"), "NoLogs", enforce_ssl=True)
    add_checks(app)
    try:
        with pytest.raises(RuntimeError, match="AwsSolutions-S1"):
            app.synth()
    finally:
        shutil.rmtree(app.outdir, ignore_errors=True)


def test_acknowledging_without_a_reason_is_refused() -> None:
    from aws_cdk import App, Stack

    from cdk.nag import acknowledge

    with pytest.raises(ValueError, match="needs a reason"):
        acknowledge(Stack(App(), "S"), "AwsSolutions-S1", "  ")


def test_cfn_lint_reports_no_errors(synthesized: Synthesized) -> None:
    from cfnlint.api import lint_all

    matches = lint_all(json.dumps(synthesized.template))
    errors = [m for m in matches if m.rule.id.startswith("E")]
    assert errors == [], [str(m) for m in errors]
    unexplained = [
        m
        for m in matches
        if m.rule.id.startswith("W")
        and not (m.rule.id in ACCEPTED_WARNINGS and ACCEPTED_WARNINGS[m.rule.id][1].search(str(m)))
    ]
    assert unexplained == [], [str(m) for m in unexplained]


def differences(left: object, right: object, path: str = "") -> list[str]:
    """Paths where two JSON documents differ (a readable assertion message for large templates)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return [
            d
            for key in sorted(set(left) | set(right))
            for d in differences(left.get(key), right.get(key), f"{path}/{key}")
        ]
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [
            d
            for i, (a, b) in enumerate(zip(left, right, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    return [] if left == right else [f"{path}: {str(left)[:120]} != {str(right)[:120]}"]


@pytest.mark.slow
def test_cdk_cli_synthesizes_the_same_template(synthesized: Synthesized) -> None:
    cli = ROOT / "node_modules" / ".bin" / "cdk"
    if not cli.exists():
        pytest.skip("node_modules absent: run `make node` (make test does) to install the pinned CDK CLI")
    outdir = Path(tempfile.mkdtemp(prefix="dropsleuth-cli-"))
    env = {
        **os.environ,
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    try:
        result = subprocess.run(
            [str(cli), "synth", "--quiet", "--no-notices", "-o", str(outdir)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        if source_digest() != synthesized.sources:
            pytest.skip(
                "the sources changed between the two synths (edits in a shared tree): nothing to compare"
            )
        cli_template = json.loads((outdir / synthesized.stack.template_file).read_text())
        assert differences(cli_template, synthesized.template) == []
    finally:
        shutil.rmtree(outdir, ignore_errors=True)

"""Partition-aware ARNs: the stack synthesized for a China Region (``aws-cn``) names no ``arn:aws:`` ARN.

Every ARN the stack builds takes its partition from the stack (``Aws.PARTITION``, the ``AWS::Partition``
pseudo parameter), so one template deploys in ``aws``, ``aws-cn`` and ``aws-us-gov``. This synth is a
second, small one: the real app's construction with the catalog and cdk-nag, but a placeholder code asset
instead of the packaged one (packaging is the session fixture's, and slow), for cn-north-1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dropsleuth.aws.flowlogs import destination_arn


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        # A join's parts are read whole by _joined (a part alone is no ARN).
        return [s for k, v in value.items() if k != "Fn::Join" for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _joined(value: Any) -> list[str]:
    """Every ``Fn::Join`` as the text it makes (pseudo parameters spelled as ``<Ref>``), and plain strings."""
    found: list[str] = []
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            found.append(separator.join(p if isinstance(p, str) else json.dumps(p) for p in parts))
        for v in value.values():
            found += _joined(v)
    elif isinstance(value, list):
        for v in value:
            found += _joined(v)
    return found


@pytest.fixture(scope="module")
def china_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Environment
    from aws_cdk import aws_lambda as lambda_

    from cdk import nag
    from cdk.app import _CONTEXT_KEYS, CLI_DEFAULT_CONTEXT, ROOT, cdk_json_context, deploy_config
    from cdk.stack import DropSleuthStack
    from dropsleuth.functions import catalog

    asset = tmp_path_factory.mktemp("asset")
    (asset / "placeholder.py").write_text("# the real asset is the session synth's\n")
    outdir = tmp_path_factory.mktemp("cdk-cn")
    app = App(context={**CLI_DEFAULT_CONTEXT, **cdk_json_context()}, outdir=str(outdir))
    config = deploy_config({key: app.node.try_get_context(key) for key in _CONTEXT_KEYS}, ROOT)
    stack = DropSleuthStack(
        app,
        "DropSleuthCn",
        config=config,
        specs=catalog(),
        code=lambda_.Code.from_asset(str(asset)),
        env=Environment(account="123456789012", region="cn-north-1"),
    )
    nag.add_checks(app)
    assembly = app.synth()
    return dict(json.loads((Path(assembly.directory) / stack.template_file).read_text()))


def test_no_arn_in_the_china_template_is_in_the_aws_partition(china_template: dict[str, Any]) -> None:
    texts = _strings(china_template["Resources"]) + _joined(china_template["Resources"])
    commercial = [t for t in texts if "arn:aws:" in t]
    assert commercial == [], sorted(set(commercial))
    # The ARNs the stack builds do carry a partition, taken from the stack.
    assert any(
        '{"Ref": "AWS::Partition"}' in t or "arn:aws-cn:" in t for t in _joined(china_template["Resources"])
    )


def test_flow_log_destinations_name_the_regions_partition() -> None:
    assert destination_arn("flow-logs-bucket", partition="aws-cn") == "arn:aws-cn:s3:::flow-logs-bucket"
    assert destination_arn("flow-logs-bucket", "vpc", partition="aws-us-gov") == (
        "arn:aws-us-gov:s3:::flow-logs-bucket/vpc/"
    )

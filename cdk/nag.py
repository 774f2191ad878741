"""cdk-nag: the AwsSolutions pack on the whole app, and acknowledgements that always carry a reason.

Every acknowledgement in the app goes through ``acknowledge`` so that none can be made without a reason,
and so tests can list them. cdk-nag 3 reads them through CDK's ``Validations`` API; the rule id is
prefixed with the plugin name (``AwsSolutions::AwsSolutions-S1``), and granular findings name what they
apply to (``AwsSolutions-IAM5[Resource::*]``).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, App, CfnResource, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PLUGIN = "AwsSolutions"


@dataclass(frozen=True)
class Acknowledged:
    path: str
    rule: str
    reason: str


def add_checks(app: App) -> None:
    """Run the AwsSolutions pack on every construct; an unacknowledged finding makes synth fail."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, rule: str, reason: str) -> Acknowledged:
    """Acknowledge ``rule`` (``AwsSolutions-S1`` or a granular ``AwsSolutions-IAM5[...]``) on a construct."""
    if not reason.strip():
        raise ValueError(f"{construct.node.path}: acknowledging {rule} needs a reason")
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{PLUGIN}::{rule}", reason=reason))
    return Acknowledged(construct.node.path, rule, reason)


def arn_reference(resource: IConstruct, suffix: str = "") -> str:
    """How cdk-nag names ``Fn::GetAtt <resource>.Arn`` (plus a suffix such as ``/*``) in IAM5 findings."""
    cfn = resource if isinstance(resource, CfnResource) else resource.node.default_child
    assert isinstance(cfn, CfnResource)
    logical_id = Stack.of(cfn).resolve(cfn.logical_id)
    return f"<{logical_id}.Arn>{suffix}"

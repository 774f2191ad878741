"""Credentials for site agents on premises: an IAM Roles Anywhere trust anchor, profile and role.

Created only when the context key ``site_agents`` is given: ``{"ca_certificate": <PEM or a file path>,
"upload_bucket": <bucket, optional>}``. A host holding a certificate that the CA issued, with the site's
name as its subject's common name (CN), gets temporary credentials through AWS's signing helper
(docs/site-agent-credentials.md); EC2-hosted agents keep their instance profile.

The role's policy allows exactly what the agent calls, built from the agent's own declarations
(``probe/agent.py``, ``probe/changelog.py``, ``probe/upload.py``): ``PutMetricData`` into the toolkit's
namespace only, the change-record group *of the certificate's own site* (IAM Roles Anywhere maps the
certificate's subject CN to the session tag ``x509Subject/CN``: IAM Roles Anywhere User Guide, "Trust
model"), and the site's own upload-test prefix of the upload bucket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rolesanywhere as rolesanywhere
from constructs import Construct

from cdk.nag import acknowledge
from dropsleuth.aws.permissions import Permissions
from dropsleuth.metrics_catalog import CHANGE_LOG_GROUP_PREFIX
from dropsleuth.probe.agent import PERMISSIONS as METRICS_PERMISSIONS
from dropsleuth.probe.changelog import PERMISSIONS as CHANGELOG_PERMISSIONS
from dropsleuth.probe.upload import KEY_PREFIX
from dropsleuth.probe.upload import PERMISSIONS as UPLOAD_PERMISSIONS

SITE_TAG = "${aws:PrincipalTag/x509Subject/CN}"
"""The site of the calling host: its certificate's subject CN, as IAM Roles Anywhere tags the session."""
AGENT_PERMISSIONS: tuple[Permissions, ...] = (METRICS_PERMISSIONS, CHANGELOG_PERMISSIONS, UPLOAD_PERMISSIONS)


@dataclass(frozen=True)
class SiteAgentsConfig:
    ca_certificate: str
    """The CA's certificate (PEM) that issues the site hosts' certificates."""
    upload_bucket: str | None = None


def site_agents_from_context(value: Any, root: Path) -> SiteAgentsConfig | None:
    """The ``site_agents`` context value (a mapping, or its JSON); None when absent. A bad value raises
    ValueError naming the key."""
    if value is None or value == "":
        return None
    document = json.loads(value) if isinstance(value, str) else value
    if not isinstance(document, dict) or not document.get("ca_certificate"):
        raise ValueError("context site_agents: needs ca_certificate (a PEM certificate or a file path)")
    unknown = set(document) - {"ca_certificate", "upload_bucket"}
    if unknown:
        raise ValueError(f"context site_agents: unknown keys {sorted(unknown)}")
    certificate = str(document["ca_certificate"]).strip()
    if not certificate.startswith("-----BEGIN CERTIFICATE-----"):
        path = Path(certificate)
        path = path if path.is_absolute() else root / path
        try:
            certificate = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ValueError(f"context site_agents.ca_certificate: cannot read {path}: {error}") from error
    if not (
        certificate.startswith("-----BEGIN CERTIFICATE-----")
        and certificate.endswith("-----END CERTIFICATE-----")
    ):
        raise ValueError("context site_agents.ca_certificate: not a PEM certificate")
    bucket = document.get("upload_bucket")
    return SiteAgentsConfig(certificate, str(bucket) if bucket else None)


class SiteAgents(Construct):
    """Trust anchor (the site CA), the role site agents assume, and the Roles Anywhere profile."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: SiteAgentsConfig, namespace: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.trust_anchor = rolesanywhere.CfnTrustAnchor(
            self,
            "TrustAnchor",
            name="dropsleuth-site-agents",
            enabled=True,
            source=rolesanywhere.CfnTrustAnchor.SourceProperty(
                source_type="CERTIFICATE_BUNDLE",
                source_data=rolesanywhere.CfnTrustAnchor.SourceDataProperty(
                    x509_certificate_data=config.ca_certificate
                ),
            ),
        )
        # Only this trust anchor's certificates may assume the role (not any anchor in the account).
        from_this_anchor = {"ArnEquals": {"aws:SourceArn": self.trust_anchor.attr_trust_anchor_arn}}
        principal = iam.ServicePrincipal("rolesanywhere.amazonaws.com")
        self.role = iam.Role(
            self,
            "Role",
            description="dropsleuth site agents (IAM Roles Anywhere): metrics, their site's change records",
            assumed_by=principal.with_conditions(from_this_anchor).with_session_tags(),
            max_session_duration=Duration.hours(1),
        )
        # IAM Roles Anywhere sets the source identity to the certificate's CN: the trust must allow it.
        assert self.role.assume_role_policy is not None
        self.role.assume_role_policy.add_statements(
            iam.PolicyStatement(
                actions=["sts:SetSourceIdentity"], principals=[principal], conditions=from_this_anchor
            )
        )
        self.policy = iam.Policy(self, "Policy", statements=self._statements(config, namespace))
        self.policy.attach_to_role(self.role)
        self.profile = rolesanywhere.CfnProfile(
            self,
            "Profile",
            name="dropsleuth-site-agents",
            enabled=True,
            role_arns=[self.role.role_arn],
            duration_seconds=3600,
        )
        acknowledge(
            self.policy,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData supports no resource-level permissions (Service Authorization "
            f"Reference); the cloudwatch:namespace condition limits it to {namespace}.",
        )
        acknowledge(
            self.policy,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
            # cdk-nag spells a policy variable ${x} as <x>.
            f"{CHANGE_LOG_GROUP_PREFIX}<aws:PrincipalTag/x509Subject/CN>:log-stream:*]",
            "log streams are named after the hosts of the caller's own site, which the account does not know "
            "in advance; the group is the site's, from the certificate's CN.",
        )
        if config.upload_bucket:
            acknowledge(
                self.policy,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{config.upload_bucket}/{KEY_PREFIX}"
                "<aws:PrincipalTag/x509Subject/CN>/*]",
                "the upload test writes one random-named object under its site's prefix and deletes it.",
            )
        CfnOutput(self, "TrustAnchorArn", value=self.trust_anchor.attr_trust_anchor_arn)
        CfnOutput(self, "ProfileArn", value=self.profile.attr_profile_arn)
        CfnOutput(self, "RoleArn", value=self.role.role_arn)

    @staticmethod
    def _statements(config: SiteAgentsConfig, namespace: str) -> list[iam.PolicyStatement]:
        region = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        group = f"{region}:log-group:{CHANGE_LOG_GROUP_PREFIX}{SITE_TAG}"
        statements = [
            iam.PolicyStatement(
                actions=sorted(METRICS_PERMISSIONS.actions),
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
            ),
            iam.PolicyStatement(actions=["logs:CreateLogGroup"], resources=[group]),
            iam.PolicyStatement(
                actions=sorted(CHANGELOG_PERMISSIONS.actions - {"logs:CreateLogGroup"}),
                resources=[f"{group}:log-stream:*"],
            ),
        ]
        if config.upload_bucket:
            statements.append(
                iam.PolicyStatement(
                    actions=sorted(UPLOAD_PERMISSIONS.actions),
                    resources=[f"arn:{Aws.PARTITION}:s3:::{config.upload_bucket}/{KEY_PREFIX}{SITE_TAG}/*"],
                )
            )
        return statements

"""Declared IAM scopes: how adapters narrow mutating actions, and how declarations combine."""

from __future__ import annotations

import pytest

from dropsleuth.aws import flowlogs, reachability
from dropsleuth.aws.permissions import (
    TOOLKIT_TAG_KEY,
    TOOLKIT_TAG_VALUE,
    Condition,
    Permissions,
    Scope,
    created_by_toolkit,
    declare,
    ec2_arns,
    grants,
    scoped,
    tag_on_create,
)

DELETE_PATH = Scope(ec2_arns("network-insights-path"), (created_by_toolkit(),), "tagged paths")


def test_a_scope_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        declare("test_no_reason", scoped("ec2:DeleteNetworkInsightsPath", reason=" "))


def test_an_action_is_either_scoped_or_not_in_one_declaration() -> None:
    with pytest.raises(ValueError, match="both scoped and unscoped"):
        declare("test_both", "ec2:CreateTags", scoped("ec2:CreateTags", reason="tag on create"))


def test_a_union_only_widens_an_unscoped_action_stays_unscoped() -> None:
    narrow = Permissions(
        "a", frozenset({"ec2:DeleteNetworkInsightsPath"}), (("ec2:DeleteNetworkInsightsPath", DELETE_PATH),)
    )
    wide = Permissions("b", frozenset({"ec2:DeleteNetworkInsightsPath", "ec2:DescribeVpcs"}))
    assert grants((narrow,)) == {"ec2:DeleteNetworkInsightsPath": (DELETE_PATH,)}
    assert grants((narrow, wide)) == {"ec2:DeleteNetworkInsightsPath": (), "ec2:DescribeVpcs": ()}
    assert grants((wide, narrow)) == grants((narrow, wide))
    assert (narrow | wide).scopes == ()


def test_two_scopes_of_one_action_are_kept_apart() -> None:
    """Reachability tags paths and analyses, flow logs tag flow logs: each inside its own create calls."""
    merged = grants((reachability.PERMISSIONS, flowlogs.PERMISSIONS))
    tagging = merged["ec2:CreateTags"]
    assert len(tagging) == 2
    by_creator = {scope.conditions[0].values: scope.resources for scope in tagging}
    assert by_creator == {
        ("CreateNetworkInsightsPath", "StartNetworkInsightsAnalysis"): ec2_arns(
            "network-insights-path", "network-insights-analysis"
        ),
        ("CreateFlowLogs",): ec2_arns("vpc-flow-log"),
    }


def test_reachability_may_delete_only_what_carries_the_tag_it_sets_on_create() -> None:
    scopes = dict(reachability.PERMISSIONS.scopes)
    for action, kind in (
        ("ec2:DeleteNetworkInsightsPath", "network-insights-path"),
        ("ec2:DeleteNetworkInsightsAnalysis", "network-insights-analysis"),
    ):
        assert scopes[action].resources == ec2_arns(kind)
        assert scopes[action].conditions == (
            Condition("StringEquals", f"aws:ResourceTag/{TOOLKIT_TAG_KEY}", (TOOLKIT_TAG_VALUE,)),
        )
    assert scopes["ec2:CreateTags"].conditions == (
        tag_on_create("CreateNetworkInsightsPath", "StartNetworkInsightsAnalysis"),
    )
    # The tag the adapter sends on create is the one the delete condition asks for.
    assert reachability._TAG == {"Key": TOOLKIT_TAG_KEY, "Value": TOOLKIT_TAG_VALUE}


def test_arn_patterns_use_the_service_authorization_reference_placeholders() -> None:
    assert ec2_arns("vpc-flow-log") == ("arn:${Partition}:ec2:${Region}:${Account}:vpc-flow-log/*",)

"""The sweeper of Reachability Analyzer leftovers: what it picks (pure), and its calls through botocore's
Stubber with real response shapes (moto has no Reachability Analyzer)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.stub import Stubber

from dropsleuth.aws.insights_sweeper import PERMISSIONS, stale, sweep_network_insights
from dropsleuth.aws.permissions import TOOLKIT_TAG_KEY, TOOLKIT_TAG_VALUE

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
OURS = [{"Key": TOOLKIT_TAG_KEY, "Value": TOOLKIT_TAG_VALUE}]
THEIRS = [{"Key": "team", "Value": "network"}]


def path(path_id: str, minutes_ago: int, tags: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "NetworkInsightsPathId": path_id,
        "CreatedDate": NOW - timedelta(minutes=minutes_ago),
        "Tags": tags,
    }


def analysis(analysis_id: str, path_id: str, minutes_ago: int, tags: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "NetworkInsightsAnalysisId": analysis_id,
        "NetworkInsightsPathId": path_id,
        "StartDate": NOW - timedelta(minutes=minutes_ago),
        "Status": "succeeded",
        "Tags": tags,
    }


PATHS = [
    path("nip-0000000000000001a", 90, OURS),  # ours, stale
    path("nip-0000000000000002b", 10, OURS),  # ours, an investigation may be running
    path("nip-0000000000000003c", 600, THEIRS),  # another team's
    path("nip-0000000000000004d", 120, OURS),  # ours, stale, but someone else analysed it
]
ANALYSES = [
    analysis("nia-0000000000000001a", "nip-0000000000000001a", 89, OURS),
    analysis("nia-0000000000000002b", "nip-0000000000000002b", 9, OURS),
    analysis("nia-0000000000000003c", "nip-0000000000000003c", 500, THEIRS),
    analysis("nia-0000000000000004d", "nip-0000000000000004d", 30, THEIRS),
]


def test_only_the_toolkits_resources_older_than_an_hour_are_picked_analyses_with_their_path() -> None:
    plan = stale(PATHS, ANALYSES, now=NOW)
    assert plan.analyses == ("nia-0000000000000001a",)
    assert plan.paths == ("nip-0000000000000001a",)


def test_a_stale_paths_recent_analysis_goes_with_it_and_an_undated_resource_is_kept() -> None:
    paths = [
        path("nip-0000000000000001a", 90, OURS),
        {"NetworkInsightsPathId": "nip-00000000000000005e", "Tags": OURS},
    ]
    analyses = [analysis("nia-0000000000000009f", "nip-0000000000000001a", 5, OURS)]
    plan = stale(paths, analyses, now=NOW)
    assert plan.analyses == ("nia-0000000000000009f",)
    assert plan.paths == ("nip-0000000000000001a",)


def test_the_sweep_deletes_analyses_then_paths_and_records_a_refused_delete() -> None:
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    with Stubber(ec2) as stub:
        stub.add_response("describe_network_insights_paths", {"NetworkInsightsPaths": PATHS}, {})
        stub.add_response("describe_network_insights_analyses", {"NetworkInsightsAnalyses": ANALYSES}, {})
        stub.add_response(
            "delete_network_insights_analysis",
            {"NetworkInsightsAnalysisId": "nia-0000000000000001a"},
            {"NetworkInsightsAnalysisId": "nia-0000000000000001a"},
        )
        stub.add_client_error(
            "delete_network_insights_path",
            service_error_code="UnauthorizedOperation",
            http_status_code=403,
            expected_params={"NetworkInsightsPathId": "nip-0000000000000001a"},
        )
        result = sweep_network_insights(now=NOW, ec2=ec2)
        stub.assert_no_pending_responses()
    assert result.deleted == ["nia-0000000000000001a"]
    assert list(result.failed) == ["nip-0000000000000001a"]
    assert result.failed["nip-0000000000000001a"].startswith("access_denied")


def test_the_sweeper_may_delete_only_what_carries_the_tag() -> None:
    scopes = dict(PERMISSIONS.scopes)
    for action in ("ec2:DeleteNetworkInsightsPath", "ec2:DeleteNetworkInsightsAnalysis"):
        (condition,) = scopes[action].conditions
        assert condition.key == f"aws:ResourceTag/{TOOLKIT_TAG_KEY}"
        assert condition.values == (TOOLKIT_TAG_VALUE,)

"""``dropsleuth investigate`` as a user runs it: a subprocess against moto_server on 127.0.0.1, flow logs
read from the account's bucket by the local engine (DuckDB)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dropsleuth.aws import clients
from dropsleuth.demo import replay
from dropsleuth.demo.scenario import load_scenario
from dropsleuth.model import FindingCode, Report, StepStatus
from tests.support import subprocess_env


def run_cli(
    *args: str, endpoint: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(endpoint) | (extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "dropsleuth.cli", "investigate", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )


def test_investigate_against_moto_server_with_the_local_engine(moto_endpoint: str, tmp_path: Path) -> None:
    clients.reset()
    prepared = replay.prepare(load_scenario("wan-mtu-9000"))
    assert prepared.built.site is not None
    sites = tmp_path / "sites.json"
    sites.write_text(json.dumps({"sites": [prepared.built.site.model_dump(mode="json")]}))
    bucket = prepared.environment["DROPSLEUTH_FLOW_LOGS_BUCKET"]

    result = run_cli(
        "--site", "plant-7",
        "--sites", str(sites),
        "--start", prepared.start.isoformat(),
        "--end", prepared.end.isoformat(),
        "--engine", "local",
        "--flow-logs", f"s3://{bucket}",
        "--output", "json",
        "--out", str(tmp_path / "out"),
        endpoint=moto_endpoint,
        extra_env={"DROPSLEUTH_CHANGES_SOURCE": prepared.environment["DROPSLEUTH_CHANGES_SOURCE"]},
    )  # fmt: skip

    assert result.returncode == 1, result.stderr  # a critical finding: worth a page
    report = Report.from_json(result.stdout)
    assert report.top_finding is not None
    assert report.top_finding.code is FindingCode.PMTUD_BLACKHOLE
    steps = {s.name: s for s in report.steps}
    assert steps["flow_log_queries"].status is StepStatus.OK
    assert steps["flow_log_queries"].data["checked"]
    # Progress went to stderr while the steps ran; files were written.
    assert "flow_log_queries" in result.stderr
    assert (tmp_path / "out" / "report.html").is_file()


def test_bad_input_is_one_line_and_exit_2(moto_endpoint: str) -> None:
    result = run_cli(
        "--vpc", "vpc-1", "--source", "10.0.0.0/8", "--destination", "S3",
        "--start", "2026-01-02T00:00:00Z", "--end", "2026-01-01T00:00:00Z",
        endpoint=moto_endpoint,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "window.end" in result.stderr


def test_missing_flow_logs_bucket_fails_that_step_only(moto_endpoint: str, tmp_path: Path) -> None:
    clients.reset()
    vpc = clients.ec2().create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    result = run_cli(
        "--vpc", vpc, "--source", "192.168.9.0/24", "--destination", "10.1.0.0/24",
        "--start", "2026-01-01T00:00:00Z", "--end", "2026-01-01T01:00:00Z",
        "--engine", "local", "--flow-logs", "s3://no-such-bucket-here", "--output", "json",
        endpoint=moto_endpoint,
    )  # fmt: skip
    assert result.returncode in {0, 1}, result.stderr
    report = Report.from_json(result.stdout)
    step = next(s for s in report.steps if s.name == "flow_log_queries")
    assert step.status is StepStatus.FAILED
    assert step.reason.startswith("not_found")

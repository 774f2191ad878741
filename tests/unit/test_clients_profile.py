"""The client factory honours ``--profile`` and ``--region`` (config files written for the test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dropsleuth.aws import clients
from dropsleuth.aws.errors import InputError
from dropsleuth.cli.common import connect
from dropsleuth.cli.main import run


@pytest.fixture
def profile_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An AWS config and credentials file holding a named profile, and no credentials or Region in the env."""
    config = tmp_path / "config"
    config.write_text("[default]\nregion = us-west-2\n\n[profile site-audit]\nregion = ap-southeast-2\n")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = AKIADEFAULTEXAMPLE00\naws_secret_access_key = default-secret\n\n"
        "[site-audit]\naws_access_key_id = AKIAPROFILEEXAMPLE00\naws_secret_access_key = profile-secret\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    yield
    clients.configure()  # back to boto3's own resolution for the next test


def test_profile_gives_its_region_and_credentials(profile_files: None) -> None:
    # When the CLI's --profile lands in the factory
    connect("site-audit", None)
    ec2 = clients.ec2()
    # Then the client talks to the profile's Region with the profile's keys, not the default profile's
    assert ec2.meta.region_name == "ap-southeast-2"
    assert clients.region() == "ap-southeast-2"
    credentials = clients.session().get_credentials()
    assert credentials is not None
    assert credentials.access_key == "AKIAPROFILEEXAMPLE00"
    assert credentials.secret_key == "profile-secret"


def test_region_option_overrides_the_profiles_region(profile_files: None) -> None:
    connect("site-audit", "eu-central-1")
    assert clients.ec2().meta.region_name == "eu-central-1"
    credentials = clients.session().get_credentials()
    assert credentials is not None
    assert credentials.access_key == "AKIAPROFILEEXAMPLE00"


def test_without_a_profile_the_default_profile_applies(profile_files: None) -> None:
    clients.configure()
    assert clients.ec2().meta.region_name == "us-west-2"
    credentials = clients.session().get_credentials()
    assert credentials is not None
    assert credentials.access_key == "AKIADEFAULTEXAMPLE00"


def test_an_unknown_profile_is_bad_input_naming_the_field(profile_files: None) -> None:
    clients.configure(profile="no-such-profile")
    with pytest.raises(InputError, match="no-such-profile") as error:
        clients.ec2()
    assert error.value.field == "profile"


def test_the_cli_says_so_in_one_line(profile_files: None, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["audit", "--vpc", "vpc-0a1b2c3d", "--profile", "no-such-profile"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        "dropsleuth: error: unknown AWS profile 'no-such-profile' (not in the AWS config or credentials file)"
    ]


def test_no_region_anywhere_is_bad_input_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    clients.configure()
    with pytest.raises(InputError) as error:
        clients.ec2()
    assert error.value.field == "region"
    code = run(["flowlogs", "status", "--vpc", "vpc-0a1b2c3d"])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "dropsleuth: error: no AWS Region: give --region, set AWS_REGION, or set a region in the AWS profile"
    ]

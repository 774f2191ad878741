"""The site registry read from SSM through one cached Powertools provider (moto in-process)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from dropsleuth.aws import clients
from dropsleuth.aws.errors import AwsError, InputError
from dropsleuth.sites import load_registry_parameter

NAME = "/DropSleuth/sites"
LYON = {"sites": [{"name": "lyon", "cidrs": ["10.1.0.0/16"]}]}
NANTES = {"sites": [{"name": "nantes", "cidrs": ["10.2.0.0/16"]}]}


def _put(value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    boto3.client("ssm").put_parameter(Name=NAME, Value=text, Type="String", Overwrite=True)


def _count_get_parameter() -> list[str]:
    """Names passed to GetParameter by the toolkit's own (cached) SSM client from now on."""
    calls: list[str] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        calls.append(params["Name"])

    clients.ssm().meta.events.register("provide-client-params.ssm.GetParameter", hook)
    return calls


def test_two_reads_within_max_age_make_one_ssm_call(aws: None) -> None:
    _put(LYON)
    calls = _count_get_parameter()
    first = load_registry_parameter(NAME)
    _put(NANTES)  # changed in SSM, but the cached value is still fresh
    second = load_registry_parameter(NAME)
    assert calls == [NAME]
    assert first == second
    assert first.names() == ["lyon"]


def test_resetting_the_clients_forgets_the_cached_registry(aws: None) -> None:
    _put(LYON)
    assert load_registry_parameter(NAME).names() == ["lyon"]
    _put(NANTES)
    clients.reset()  # what tests do between accounts, and ``configure`` does on a new target
    calls = _count_get_parameter()
    assert load_registry_parameter(NAME).names() == ["nantes"]
    assert calls == [NAME]


def test_a_parameter_that_is_not_json_names_the_setting(aws: None) -> None:
    _put("sites: [lyon")
    with pytest.raises(InputError) as caught:
        load_registry_parameter(NAME)
    assert caught.value.field == "sites_parameter"


def test_a_missing_parameter_is_a_clear_aws_error(aws: None) -> None:
    with pytest.raises(AwsError, match="GetParameter"):
        load_registry_parameter("/DropSleuth/absent")

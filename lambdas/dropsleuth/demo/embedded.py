"""The embedded account: moto, in this process, with moto's NACL ICMP bug fixed and no real credentials."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from dropsleuth.aws import clients
from dropsleuth.demo.moto_fixes import apply_moto_fixes

# Credentials moto accepts and AWS would reject: the demo can never touch a real account.
_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "embedded",
    "AWS_SECRET_ACCESS_KEY": "embedded",
    "AWS_SESSION_TOKEN": "embedded",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@contextmanager
def embedded_account(region: str) -> Iterator[None]:
    """Run the block against a fresh in-process moto account in ``region``."""
    from moto import mock_aws  # noqa: PLC0415 -- moto is needed only for the embedded account

    saved = {
        key: os.environ.get(key)
        for key in [*_FAKE_ENV, "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_PROFILE"]
    }
    os.environ.update(_FAKE_ENV)
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    apply_moto_fixes()
    clients.reset()
    try:
        with mock_aws():
            yield
    finally:
        clients.reset()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

"""Root test configuration: fake credentials, no real AWS endpoint, moto's NACL ICMP bug fixed.

Every test runs with credentials that AWS would reject and with ``tests/network_guard.py`` installed: a
boto3 request to any endpoint but loopback is refused before it leaves botocore, and a socket connection
off this machine is refused unless the thread is inside a network namespace a netns test created. moto
intercepts in-process calls and ``moto_server`` listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "DropSleuth",
    "POWERTOOLS_SERVICE_NAME": "dropsleuth-tests",
    "POWERTOOLS_DEV": "false",
}
for _key, _value in FAKE_ENV.items():
    os.environ[_key] = _value
for _key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_key, None)

from dropsleuth.demo.moto_fixes import apply_moto_fixes  # noqa: E402 -- after the environment is faked
from tests import network_guard  # noqa: E402 -- after the environment is faked (it imports botocore)

apply_moto_fixes()

network_guard.install()


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Each test builds its own clients (moto accounts do not leak between tests)."""
    from dropsleuth.aws import clients

    clients.reset()
    yield
    clients.reset()


@pytest.fixture
def aws() -> Iterator[None]:
    """An in-process moto account."""
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 (patched in this process) for code that runs in another process."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_endpoint(moto_server: str) -> Iterator[str]:
    """The session's moto server, reset to an empty account, with ``AWS_ENDPOINT_URL`` pointing at it."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"))
    os.environ["AWS_ENDPOINT_URL"] = moto_server
    try:
        yield moto_server
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)


def moto_athena_mismatch() -> str | None:
    """Why moto cannot serve Athena as this botocore describes it, or None when the pair works.

    botocore 1.44.14 moved Athena to the rest-json protocol and moto 5.2 answers those requests with
    "404 Not yet implemented": every Athena test then fails with an error that says nothing of the cause.
    pyproject.toml's [tool.uv] constraint holds botocore back; this check names the pair if it breaks again.
    """
    import boto3
    import botocore
    import moto
    from botocore.exceptions import ClientError
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("athena", region_name="eu-west-1")
        try:
            client.create_work_group(Name="compatibility-check")
            client.get_work_group(WorkGroup="compatibility-check")
        except ClientError as error:
            protocol = client.meta.service_model.protocol
            return (
                f"moto {moto.__version__} cannot serve Athena as botocore {botocore.__version__} "
                f"describes it (protocol {protocol!r}): {error}. Hold botocore back in pyproject.toml's "
                "[tool.uv] constraint-dependencies (or move to a moto that serves it), then `make lock`."
            )
    return None


def pytest_configure(config: pytest.Config) -> None:
    """pyproject.toml's --basetemp (build/pytest, so the suite leaves nothing in /tmp) needs its parent."""
    basetemp = config.option.basetemp
    if basetemp:
        Path(basetemp).resolve().parent.mkdir(parents=True, exist_ok=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop at once, with the versions, when the locked moto and botocore no longer understand each other."""
    mismatch = moto_athena_mismatch()
    if mismatch:
        pytest.exit(mismatch, returncode=3)

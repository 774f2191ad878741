"""Fixtures for the network-namespace lab (root only; skipped with the reason otherwise)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.netns.lab import PREFIX, Lab, lab, lab_unavailable_reason, sweep_stale

_REASON = lab_unavailable_reason()


@pytest.fixture(scope="session", autouse=True)
def _lab_host() -> Iterator[None]:
    if _REASON is not None:
        pytest.skip(f"netns lab: {_REASON}")
    sweep_stale()
    yield
    # Nothing of ours may outlive the session: every namespace this process made is gone. Only ours: a
    # parallel run (another checkout, another pid) has its labs up right now and must keep them.
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    leftovers = [
        line.split()[0] for line in listing.splitlines() if line.startswith(f"{PREFIX}-{os.getpid()}-")
    ]
    for name in leftovers:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    assert not [n for n in leftovers if n.split("-")[1].isdigit()], f"lab namespaces left behind: {leftovers}"


@pytest.fixture
def working_lab() -> Iterator[Lab]:
    with lab("ok") as instance:
        yield instance


@pytest.fixture
def blackhole_lab() -> Iterator[Lab]:
    with lab("bh", blackhole=True) as instance:
        yield instance


@pytest.fixture
def mismatch_lab() -> Iterator[Lab]:
    """edge (9000) and gw (1500) on the same segment: frames above 1500 are dropped on arrival."""
    with lab("mm", gw_edge_mtu=1500) as instance:
        yield instance

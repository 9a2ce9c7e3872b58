"""Fixtures for the root integration tests.

Outside CI a machine without root, cgroup2, bpffs or a built mcguard skips
these tests. With CI=true the same lack fails them, because a skipped guard
test is not a pass.
"""

import contextlib
import os

import pytest

import mcgtest


def _unavailable(reason):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def _open_env(need_binary=True):
    try:
        env = mcgtest.TestEnv().__enter__()
    except mcgtest.EnvUnavailable as error:
        _unavailable(str(error))
    try:
        if need_binary and not os.access(env.binary, os.X_OK):
            _unavailable(f"{env.binary} not found; build it with make or set MCGUARD")
        yield env
    finally:
        env.cleanup()


@pytest.fixture
def env():
    """A fresh TestEnv for one test, with a built mcguard."""
    with _open_env() as test_env:
        yield test_env


@pytest.fixture(scope="module")
def module_env():
    """One TestEnv shared by the tests of a module, with a built mcguard."""
    with _open_env() as test_env:
        yield test_env


@pytest.fixture
def bare_env():
    """A fresh TestEnv that does not need the mcguard binary."""
    with _open_env(need_binary=False) as test_env:
        yield test_env

"""Fixtures of the simulator tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from ioc_core.settings import Settings
from ioc_core.stack.mosquitto import MosquittoService
from ioc_core.stack.temporary import temporary_settings, temporary_var_dir


@pytest.fixture
def private_broker() -> Iterator[tuple[Settings, MosquittoService]]:
    """A Mosquitto of the test's own (free port, own folder), which it may stop and start
    without disturbing the suite's shared broker or anyone else."""
    var_dir = temporary_var_dir()
    settings = temporary_settings(var_dir)
    broker = MosquittoService(settings)
    broker.start()
    try:
        yield settings, broker
    finally:
        broker.stop()
        shutil.rmtree(var_dir, ignore_errors=True)

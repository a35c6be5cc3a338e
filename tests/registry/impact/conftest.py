"""The fault suite's real-process fixture, for the takedown kill test."""

from tests.faults.conftest import provreg  # noqa: F401 - a fixture

"""Test-suite configuration: one hypothesis profile for every property test.

``deadline=None`` because timing on shared CI machines is noisy; ``max_examples`` is modest so
the whole suite stays fast. Run ``HYPOTHESIS_PROFILE=thorough pytest`` for a deeper search.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "microgradlike",
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "microgradlike"))


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "slow: a long-running test (deselect with -m 'not slow')")

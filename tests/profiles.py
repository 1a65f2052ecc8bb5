"""Property tests' example counts as a share of the loaded Hypothesis profile (tests/conftest.py)."""

from __future__ import annotations

from hypothesis import settings


def scaled(factor: float) -> settings:
    """The profile's max_examples times `factor`: a cheap property can afford more, a slow one fewer."""
    return settings(max_examples=max(1, round(settings().max_examples * factor)))

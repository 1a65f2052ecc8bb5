"""nudge: who to call today, and why."""

from __future__ import annotations

__version__ = "0.1.0"

"""`python -m nudge` runs the CLI."""

from __future__ import annotations

from nudge.cli import main

main()

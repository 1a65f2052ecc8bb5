"""nudge: who to call today, and why.

The import package and the command are `nudge`; the distribution is
`nudge-contacts`, since `nudge` on the package index is an unrelated project.
"""

from __future__ import annotations

__version__ = "0.1.0"
DISTRIBUTION = "nudge-contacts"

"""nudge: who to call today, and why.

The import package and the command are `nudge`; the distribution is
`nudge-contacts`, since `nudge` on the package index is an unrelated project.
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"
DISTRIBUTION = "nudge-contacts"
APP = "nudge"


def config_dir() -> Path:
    """Where the config, templates and prompts live (XDG: ~/.config/nudge)."""
    import platformdirs  # here, not at import: `nudge --help` never needs it

    return Path(platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    """Where the store, the Maildir and tokens live by default (XDG: ~/.local/share/nudge)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP))

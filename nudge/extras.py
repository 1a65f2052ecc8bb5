"""The distribution's extras: which one a feature needs, whether it is installed, how to add it.

The packages of every source but `files` and `memory`, and of a PostgreSQL store, are
extras of the distribution (pyproject.toml), so they may be missing. That is found
without importing them (`importlib.util.find_spec`), and said in one line naming the
extra and the pip command that adds it to the environment this nudge runs in.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import sys
from urllib.parse import unquote, urlsplit

from nudge import DISTRIBUTION
from nudge.errors import UserError

# The modules each extra brings, as nudge imports them (pyproject.toml lists the distributions).
EXTRAS: dict[str, tuple[str, ...]] = {
    "dav": ("requests", "lxml"),
    "google": (
        "googleapiclient",
        "google.oauth2",
        "google_auth_oauthlib",
        "google_auth_httplib2",
        "httplib2",
    ),
    "imap": ("imapclient",),
    "keyring": ("keyring",),
}
_EXTRA_NAMED = re.compile(r"add nudge's \[(\w+)\] extra")


def _importable(module: str) -> bool:
    """Whether `module` can be imported, without importing it (its parent package is)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_module(extra: str) -> str | None:
    """The first module of `extra` that cannot be imported here, or None when all can."""
    return next((m for m in EXTRAS[extra] if not _importable(m)), None)


def _installed_from() -> tuple[str, bool]:
    """(what pip should install, editable): this checkout when nudge was installed from one."""
    from importlib import metadata

    try:
        raw = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        raw = None
    if raw:
        info = json.loads(raw)
        url = urlsplit(str(info.get("url", "")))
        if url.scheme == "file" and isinstance(info.get("dir_info"), dict):
            return unquote(url.path), bool(info["dir_info"].get("editable"))
    return DISTRIBUTION, False


def install_command(extra: str) -> str:
    """The command that adds `extra` (or "a,b") to the environment this nudge runs in."""
    target, editable = _installed_from()
    return f"{shlex.quote(sys.executable)} -m pip install {'-e ' if editable else ''}" + shlex.quote(
        f"{target}[{extra}]"
    )


def missing_extra_message(what: str, module: str, extra: str) -> str:
    return (
        f"{what} needs the Python package {module}, which is not installed here; "
        f"add nudge's [{extra}] extra: {install_command(extra)}"
    )


def require_extra(extra: str, what: str) -> None:
    """Raise the one-line UserError when a module of `extra` cannot be imported."""
    module = missing_module(extra)
    if module is not None:
        raise UserError(missing_extra_message(what, module, extra))


def install_fix(problems: list[str]) -> str | None:
    """One command for config problems that are all missing extras (for `nudge doctor`), else None."""
    extras = [m.group(1) for p in problems if (m := _EXTRA_NAMED.search(p))]
    if not problems or len(extras) != len(problems):
        return None
    return install_command(",".join(sorted(set(extras))))

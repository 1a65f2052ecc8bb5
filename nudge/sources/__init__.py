"""Source plug-ins by type name; each module is imported only when used.

The packages of every source but `files` and `memory` are extras of the
distribution (pyproject.toml), so a source's package may be missing. That is
found before its module is imported, at config load and in `load_source`, and
said in one line naming the extra and the command that adds it.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError

from nudge import DISTRIBUTION
from nudge.errors import UserError

if TYPE_CHECKING:
    from nudge.config import SourceConfig
    from nudge.sources.base import Source

REGISTRY: dict[str, str] = {
    "carddav": "nudge.sources.carddav:CardDavSource",
    "caldav": "nudge.sources.caldav:CalDavSource",
    "files": "nudge.sources.files:FilesSource",
    "gmail": "nudge.sources.gmail:GmailSource",
    "google_calendar": "nudge.sources.google:GoogleCalendarSource",
    "google_contacts": "nudge.sources.google:GoogleContactsSource",
    "imap": "nudge.sources.imap:ImapSource",
    "memory": "nudge.sources.memory:MemorySource",
}
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
NEEDS: dict[str, str] = {
    "carddav": "dav",
    "caldav": "dav",
    "gmail": "google",
    "google_calendar": "google",
    "google_contacts": "google",
    "imap": "imap",
}
_COMMON = ("type", "name", "enabled")
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


def _missing(type_name: str, options: dict[str, Any]) -> tuple[str, str, str, str] | None:
    """(option key, what needs it, module, extra) of the first package this source lacks."""
    extra = NEEDS.get(type_name)
    if extra is not None and (module := missing_module(extra)) is not None:
        return "type", type_name, module, extra
    if options.get("keyring_service") and (module := missing_module("keyring")) is not None:
        return "keyring_service", "the system keyring", module, "keyring"
    return None


def source_class(type_name: str) -> type[Source]:
    try:
        module_name, _, attr = REGISTRY[type_name].partition(":")
    except KeyError:
        raise UserError(f"unknown source type {type_name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    extra = NEEDS.get(type_name)
    if extra is not None:
        require_extra(extra, type_name)
    try:
        cls: type[Source] = getattr(importlib.import_module(module_name), attr)
    except ModuleNotFoundError as e:
        if extra is None or not e.name or e.name.startswith("nudge"):
            raise
        raise UserError(missing_extra_message(type_name, e.name, extra)) from None
    return cls


def options_problems(raw: dict[str, Any], prefix: str) -> list[str]:
    """`sources[i].key: problem` lines for one [[sources]] table."""
    from nudge.config import problems_of

    if raw.get("type") not in REGISTRY:
        return [
            f"{prefix}.type: unknown source type {raw.get('type')!r}; known: {', '.join(sorted(REGISTRY))}"
        ]
    lacking = _missing(raw["type"], raw)
    if lacking is not None:
        key, what, module, extra = lacking
        return [f"{prefix}.{key}: " + missing_extra_message(what, module, extra)]
    cls = source_class(raw["type"])
    try:
        cls.options_model.model_validate({k: v for k, v in raw.items() if k not in _COMMON})
    except ValidationError as e:
        return problems_of(e, prefix)
    return []


def load_source(cfg: SourceConfig) -> Source:
    lacking = _missing(cfg.type, cfg.options)
    if lacking is not None:
        _, what, module, extra = lacking
        raise UserError(
            f"sources entry {cfg.name!r} ({cfg.type}): " + missing_extra_message(what, module, extra)
        )
    cls = source_class(cfg.type)
    return cls(cfg.name, cls.options_model.model_validate(cfg.options))

"""Installed-app OAuth for Google: one read-only grant per account, kept at 0600.

`nudge auth google` calls `authorize()` once; the Google sources then load the
stored token with `load_credentials()` and google-auth refreshes it as needed.
The token file holds a refresh token, which is as good as a password to the
user's contacts and calendar (and mail headers, when a `gmail` source asked for
`GMAIL_SCOPE`): it is written atomically, never readable by
others, and never logged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from nudge import data_dir
from nudge.errors import SourceError, UserError

if TYPE_CHECKING:
    from google.oauth2.credentials import Credentials

    from nudge.sources import SourceEntry

log = logging.getLogger(__name__)

SCOPES = (
    "https://www.googleapis.com/auth/contacts.readonly",
    "https://www.googleapis.com/auth/calendar.readonly",
)
# Headers and labels only: no bodies, no attachments, no search (messages.list `q`).
GMAIL_SCOPE = "https://www.googleapis.com/auth/gmail.metadata"
GOOGLE_TYPES = ("google_contacts", "google_calendar", "gmail")
# Any loopback port is allowed for Desktop clients; with --no-browser nothing
# listens there: the user copies the address the browser could not open.
PASTE_REDIRECT = "http://127.0.0.1:8085/"
_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")


def reauth_command(account: str) -> str:
    return f"nudge auth google --account {account}"


def check_account(account: str) -> str:
    """Account names become file names: keep them to a safe alphabet."""
    if not _ACCOUNT.match(account):
        raise UserError(f"Google account name {account!r}: use letters, digits and . _ @ + - only")
    return account


def token_path(account: str) -> Path:
    return data_dir() / "google" / f"{check_account(account)}.json"


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically; the file is 0600 from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)  # mkstemp already uses 0600; be explicit about it
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def save_credentials(account: str, credentials: Credentials) -> Path:
    path = token_path(account)
    write_private(path, credentials.to_json())  # type: ignore[no-untyped-call]
    return path


def load_credentials(account: str) -> Credentials:
    """The stored grant of `account`; SourceError naming the command when there is none."""
    from google.oauth2.credentials import Credentials

    path = token_path(account)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(
            f"Google account {account!r} is not authorised yet; run `{reauth_command(account)}`"
        ) from None
    except (OSError, ValueError) as e:
        raise SourceError(
            f"{path}: unreadable Google token ({type(e).__name__}); run `{reauth_command(account)}`"
        ) from None
    if path.stat().st_mode & 0o077:
        log.warning("%s is readable by others; fixing its mode to 0600", path)
        path.chmod(0o600)
    # The scopes stored with the grant, not a fixed list: a refresh asks for exactly
    # these, and one source refreshing with fewer would store a token without Gmail.
    scopes = None if isinstance(info, dict) and info.get("scopes") else list(SCOPES)
    try:
        creds: Credentials = Credentials.from_authorized_user_info(info, scopes)  # type: ignore[no-untyped-call]
    except ValueError as e:
        raise SourceError(f"{path}: incomplete Google token ({e}); run `{reauth_command(account)}`") from None
    return creds


def scopes_for(sources: Sequence[SourceEntry], account: str) -> tuple[str, ...]:
    """The scopes to ask for `account`: contacts and calendar, plus Gmail if a gmail source uses it.

    Mail headers are more private than an address book, so Gmail is asked for
    only when the config reads it.
    """
    for cfg in sources:
        if cfg.type == "gmail" and cfg.options.get("account", "default") == account:
            return (*SCOPES, GMAIL_SCOPE)
    return SCOPES


def client_secrets_for(sources: Sequence[SourceEntry], account: str) -> str:
    """The `client_secrets` path configured for `account` in any Google source, or ''."""
    for cfg in sources:
        if cfg.type in GOOGLE_TYPES and cfg.options.get("account", "default") == account:
            path = cfg.options.get("client_secrets", "")
            if path:
                return str(path)
    return ""


def _client_config(client_secrets: str | Path) -> dict[str, Any]:
    path = Path(client_secrets).expanduser()
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"{path}: no such client secrets file; download it from the Google Cloud console "
            "(APIs & Services → Credentials → your Desktop OAuth client → Download JSON)"
        ) from None
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not a client secrets JSON file ({type(e).__name__})") from None
    if not isinstance(config, dict) or "installed" not in config:
        kind = next(iter(config), "unknown") if isinstance(config, dict) else "unknown"
        raise UserError(
            f"{path}: this OAuth client is of type {kind!r}; nudge needs one of type "
            "'Desktop app' (the file then has an 'installed' section)"
        )
    return config


def authorize(
    account: str,
    client_secrets: str | Path,
    no_browser: bool = False,
    *,
    scopes: Sequence[str] = SCOPES,
    ask: Callable[[str], str] = input,
    tell: Callable[[str], None] = print,
) -> Path:
    """Run the consent flow for `account` and store its token; returns the token file.

    With a browser: a loopback redirect to a one-off local server. Without
    (`no_browser`, e.g. over SSH): print the consent URL, then `ask` for the
    address the browser ended on (it fails to load; that is expected) or the
    bare code. Raises UserError when the user refuses or the exchange fails.
    """
    from google_auth_oauthlib.flow import InstalledAppFlow

    check_account(account)
    flow = InstalledAppFlow.from_client_config(_client_config(client_secrets), scopes=list(scopes))
    try:
        if no_browser:
            credentials = _paste_flow(flow, ask, tell)
        else:
            credentials = flow.run_local_server(
                host="localhost",
                port=0,
                open_browser=True,
                prompt="consent",
                authorization_prompt_message="Opening your browser to grant nudge read-only access.\n"
                "If it does not open, visit:\n{url}",
                success_message="nudge has read-only access now. You can close this window.",
            )
    except UserError:
        raise
    except Exception as e:  # oauthlib, requests and the local server raise many kinds
        raise UserError(f"Google authorisation failed: {type(e).__name__}: {e}") from None
    if not credentials.refresh_token:
        raise UserError(
            "Google returned no refresh token; revoke nudge at https://myaccount.google.com/permissions "
            f"and run `{reauth_command(account)}` again"
        )
    granted = set(credentials.granted_scopes or scopes)
    missing = [s.rsplit("/", 1)[-1] for s in scopes if s not in granted]
    if missing:
        log.warning("Google account %s: not granted: %s", account, ", ".join(missing))
    path = save_credentials(account, credentials)
    log.info("Google account %s authorised; token stored in %s", account, path)
    return path


def _paste_flow(flow: Any, ask: Callable[[str], str], tell: Callable[[str], None]) -> Credentials:
    flow.redirect_uri = PASTE_REDIRECT
    url, state = flow.authorization_url(prompt="consent")
    tell(
        "Open this address in a browser on any machine and grant access:\n\n"
        f"{url}\n\n"
        f"Afterwards the browser goes to {PASTE_REDIRECT}… and shows an error page; "
        "that is expected. Copy the whole address from its address bar."
    )
    answer = ask("Paste the address (or just the code): ").strip()
    code = answer
    if answer.startswith(("http://", "https://")):
        query = parse_qs(urlsplit(answer).query)
        if "error" in query:
            raise UserError(f"Google authorisation refused: {query['error'][0]}")
        if query.get("state", [state])[0] != state:
            raise UserError("that address belongs to another authorisation attempt; start again")
        code = query.get("code", [""])[0]
    if not code:
        raise UserError("no authorisation code given")
    flow.fetch_token(code=code)
    creds: Credentials = flow.credentials
    return creds

"""Passwords from the environment, a command or the system keyring, never from logs.

The value is returned to the caller and nowhere else; error messages name the
variable or command that failed, never what it printed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from urllib.parse import unquote, urlsplit, urlunsplit

from nudge.errors import UserError

# scheme://user:password@ : the password part of any URL in a text.
_URL_PASSWORD = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]*:)[^\s/]*@")


def mask(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***."""
    return _URL_PASSWORD.sub(r"\1***@", text)


def split_url_login(url: str) -> tuple[str, str | None, str]:
    """(user, password or None, the URL without them) of an http(s)/database URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "", None, url
    if "@" not in parts.netloc:
        return "", None, url
    login, _, host = parts.netloc.rpartition("@")
    user, colon, password = login.partition(":")
    bare = urlunsplit(parts._replace(netloc=host))
    return unquote(user), (unquote(password) if colon else None), bare


def resolve(
    where: str,
    inline: str = "",
    env: str = "",
    command: str = "",
    keyring_service: str = "",
    keyring_username: str = "",
) -> str | None:
    """The secret configured at `where` (e.g. `smtp`), or None when none is configured."""
    if keyring_service:
        return from_keyring(where, keyring_service, keyring_username)
    if inline:
        return inline
    if env:
        value = os.environ.get(env)
        if value is None:
            raise UserError(f"{where}.password_env: environment variable {env} is not set")
        return value
    if command:
        try:
            done = subprocess.run(
                shlex.split(command), capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise UserError(f"{where}.password_command: could not run it: {type(e).__name__}") from None
        if done.returncode != 0:
            raise UserError(f"{where}.password_command: exited with status {done.returncode}")
        value = done.stdout.rstrip("\r\n")
        if not value:
            raise UserError(f"{where}.password_command: printed nothing")
        return value
    return None


def from_keyring(where: str, service: str, username: str) -> str:
    """The password stored under (service, username); headless machines often have no keyring."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        value = keyring.get_password(service, username)
    except NoKeyringError:
        raise UserError(
            f"{where}.keyring_service: no system keyring is available here (a headless machine?); "
            "use password_env or password_command instead"
        ) from None
    except KeyringError as e:
        raise UserError(f"{where}.keyring_service: the keyring failed: {type(e).__name__}") from None
    if value is None:
        raise UserError(
            f"{where}.keyring_service: no password stored for {username!r} under {service!r} "
            f"(store one with `keyring set {service} {username}`)"
        )
    return value

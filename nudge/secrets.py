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
    key: str = "password",
) -> str | None:
    """The secret configured at `where` (e.g. `smtp`), or None when none is configured.

    `key` is what the config calls it (`password`, or `token` for a webhook), for messages.
    """
    if keyring_service:
        return from_keyring(where, keyring_service, keyring_username)
    if inline:
        return inline
    if env:
        value = os.environ.get(env)
        if value is None:
            raise UserError(f"{where}.{key}_env: environment variable {env} is not set")
        return value
    if command:
        named = f"{where}.{key}_command `{command}`"
        try:
            argv = shlex.split(command)
        except ValueError as e:
            raise UserError(f"{named}: cannot be read as a command line ({e})") from None
        if not argv:
            raise UserError(f"{where}.{key}_command is empty: set it to a command that prints the {key}")
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        except FileNotFoundError:
            raise UserError(
                f"{named}: there is no command {argv[0]!r} (is it installed, and on the PATH of nudge?)"
            ) from None
        except PermissionError:
            raise UserError(f"{named}: {argv[0]!r} is not executable") from None
        except subprocess.TimeoutExpired:
            raise UserError(
                f"{named}: gave no answer within 60 s (is it waiting for a passphrase?)"
            ) from None
        except OSError as e:
            raise UserError(f"{named}: could not run it: {type(e).__name__}") from None
        if done.returncode != 0:
            raise UserError(f"{named}: exited with status {done.returncode}; run it yourself to see why")
        value = done.stdout.rstrip("\r\n")
        if not value:
            raise UserError(f"{named}: printed nothing")
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

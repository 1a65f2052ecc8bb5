"""Which HTTP authentication a DAV account uses: Basic, Digest, or the one its server asks for.

requests implements both schemes; what is decided here is which one to send. In "auto" (the
default) Basic goes with the first request where the channel is safe (https, or loopback), so
the common case costs no extra round trip, and a 401 whose challenge offers Digest but not
Basic (some Baïkal setups) switches the account to Digest. Over plain http to another host
nothing is sent until the challenge names the scheme: a password never crosses the wire in the
clear to a server that asked for Digest. What was learnt is remembered per account for the
life of the process, so a daemon asks once and never keeps sending a refused scheme (which
fail2ban-style guards count as failed logins).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Literal
from urllib.parse import urlsplit

from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

log = logging.getLogger(__name__)

AuthMode = Literal["auto", "basic", "digest"]
Scheme = Literal["basic", "digest"]

# (scheme://host:port, username) -> the scheme its server asked for
_LEARNT: dict[tuple[str, str], Scheme] = {}

# An auth-scheme token: at the start or after a comma, followed by its parameters
# (whitespace, then name=) or by nothing; a parameter name is followed by "=" directly.
_SCHEME = re.compile(r"(?:^|,)\s*([A-Za-z][\w.-]*)(?=\s+[\w.-]+\s*=|\s*(?:,|$))")


def offered(challenge: str) -> set[str]:
    """The auth schemes a WWW-Authenticate value names, lower case (headers joined by commas)."""
    return {m.group(1).lower() for m in _SCHEME.finditer(challenge)}


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def basic_is_safe(url: str) -> bool:
    """Whether Basic may go unasked: TLS protects it, or it never leaves this machine."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Login:
    """The credentials of one account and the scheme to present them with."""

    def __init__(self, url: str, username: str, password: str, mode: AuthMode = "auto") -> None:
        self.username, self.password, self.mode = username, password, mode
        self._key = (origin(url), username)
        self.scheme: Scheme | None
        if mode != "auto":
            self.scheme = mode
        else:
            self.scheme = _LEARNT.get(self._key) or ("basic" if basic_is_safe(url) else None)

    def auth(self) -> AuthBase | None:
        """What requests should attach; None: send nothing until the server says what it wants."""
        if not self.username or self.scheme is None:
            return None
        if self.scheme == "digest":
            return HTTPDigestAuth(self.username, self.password)
        return HTTPBasicAuth(self.username, self.password)

    def retry_with(self, challenge: str) -> AuthBase | None:
        """After a 401: the auth to ask again with, if the challenge wants what was not sent.

        None means the login was refused as it stands (a wrong password, or a fixed `auth`).
        """
        if self.mode != "auto" or not self.username:
            return None
        schemes = offered(challenge)
        want: Scheme | None = None
        if self.scheme is None:
            want = "digest" if "digest" in schemes else "basic" if "basic" in schemes else None
        elif self.scheme == "basic" and "digest" in schemes and "basic" not in schemes:
            want = "digest"
        if want is None:
            return None
        log.info("%s asks for %s authentication; using it", self._key[0], want.capitalize())
        self.scheme = _LEARNT[self._key] = want
        return self.auth()

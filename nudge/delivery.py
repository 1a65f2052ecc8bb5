"""Getting the digest to the user: SMTP, or a local Maildir any mail client opens.

Sending is split in two so the caller can record "about to send" between a
connection that works and the message going out; that is what lets
service.py promise one digest a day.
"""

from __future__ import annotations

import mailbox
import re
import secrets
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from nudge.config import Smtp
from nudge.errors import DeliveryError

_DIGEST_ID = re.compile(r"^<?nudge\.digest\.(\d{4}-\d{2}-\d{2})\.([0-9a-f]{16})(?:\.\d+)?@")


def new_token() -> str:
    return secrets.token_hex(8)


def message_id(day: str, sender: str, token: str, attempt: int = 0) -> str:
    """One per day's digest (and per forced resend of it).

    The random token makes the id unguessable: a reply must quote it to act on
    the digest, so nobody who merely knows the date and the sender can.
    """
    domain = sender.rpartition("@")[2] or "localhost"
    suffix = f".{attempt}" if attempt else ""
    return f"<nudge.digest.{day}.{token}{suffix}@{domain}>"


def digest_key(msg_id: str) -> tuple[str, str] | None:
    """(day, token) of one of our digest ids, whichever resend it was; None for any other id."""
    m = _DIGEST_ID.match(msg_id.strip())
    return (m[1], m[2]) if m else None


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_value(value: str) -> str:
    """One line for a header: control characters (CR, LF, NUL, ...) become a space.

    A name read from an address book can hold anything; a newline in a header
    would be refused by the email package (or, elsewhere, inject a header), and
    one bad name must never block the digest it heads. Folding long values is
    left to the email policy, which does it correctly.
    """
    return " ".join(_CONTROL.sub(" ", value).split())


def build_message(
    subject: str, text: str, html: str, sender: str, to: str, msg_id: str, when: datetime
) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = header_value(subject)
    msg["From"] = header_value(sender)
    msg["To"] = header_value(to)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = header_value(msg_id) or make_msgid()
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Mailer"] = "nudge"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


class SmtpTransport:
    """Connect and log in first (`open`), then `send`; both raise DeliveryError."""

    def __init__(self, cfg: Smtp, password: str | None) -> None:
        self.cfg = cfg
        self.password = password
        self.conn: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cfg.cafile or None)

    def open(self) -> None:
        cfg, port = self.cfg, self.cfg.effective_port
        where = f"SMTP {cfg.host}:{port}"
        try:
            if cfg.security == "tls":
                self.conn = smtplib.SMTP_SSL(cfg.host, port, timeout=cfg.timeout, context=self._context())
            else:
                self.conn = smtplib.SMTP(cfg.host, port, timeout=cfg.timeout)
                if cfg.security == "starttls":
                    self.conn.starttls(context=self._context())
            # Finish the handshake now, so "about to send" is only recorded once the
            # server has answered everything but the message itself.
            self.conn.ehlo_or_helo_if_needed()
            if cfg.username:
                self.conn.login(cfg.username, self.password or "")
        except smtplib.SMTPAuthenticationError as e:
            self.close()
            raise DeliveryError(f"{where}: login refused for {cfg.username} ({e.smtp_code})") from None
        except smtplib.SMTPNotSupportedError as e:
            self.close()
            raise DeliveryError(f"{where}: {e} (check smtp.security)") from None
        except ssl.SSLCertVerificationError as e:
            self.close()
            raise DeliveryError(
                f"{where}: certificate not trusted: {e.verify_message} (set smtp.cafile?)"
            ) from None
        except (TimeoutError, OSError, smtplib.SMTPException) as e:
            self.close()
            raise DeliveryError(f"{where}: {type(e).__name__}: {e}") from None

    def send(self, msg: EmailMessage) -> None:
        assert self.conn is not None, "open() first"
        try:
            refused = self.conn.send_message(msg)
        except (OSError, smtplib.SMTPException) as e:
            raise DeliveryError(f"SMTP {self.cfg.host}: sending failed: {e}") from None
        finally:
            self.close()
        if refused:
            raise DeliveryError(f"SMTP {self.cfg.host}: recipients refused: {', '.join(refused)}")

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                self.conn.close()
            self.conn = None


def deliver_maildir(msg: EmailMessage, path: Path) -> Path:
    """Write into `path/new` atomically (tmp then rename); returns the file."""
    try:
        box = mailbox.Maildir(str(path), create=True)
        key = box.add(mailbox.MaildirMessage(msg))
    except OSError as e:
        raise DeliveryError(f"Maildir {path}: {e.strerror}") from e
    return path / "new" / key


def maildir_has(path: Path, msg_id: str) -> bool:
    """Whether a message with this Message-ID is already in the Maildir."""
    if not (path / "new").exists():
        return False
    box = mailbox.Maildir(str(path), create=False)
    return any(m.get("Message-ID") == msg_id for m in box)

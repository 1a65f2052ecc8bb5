"""The digest by SMTP (STARTTLS, implicit TLS or plain) to the user's own mail server.

`open` connects, says EHLO, does STARTTLS and logs in: only then is the day
marked `sending`, so the only window in which a crash leaves the outcome
unknown is the message transfer itself (a Maildir can be looked into after a
crash; a mail server cannot: `arrived` is None, and nothing is sent again).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Literal

from pydantic import Field, model_validator

from nudge import secrets
from nudge.channels.base import Channel, ChannelOptions, Outgoing
from nudge.channels.email import message_of
from nudge.errors import DeliveryError, UserError


class SmtpOptions(ChannelOptions):
    host: str = Field(description="SMTP server name.")
    port: int = Field(0, ge=0, le=65535, description="Port; 0 picks 587, 465 or 25 by security.")
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls (port 587), tls (implicit, port 465) or none."
    )
    username: str = Field("", description="Login name; empty for no login.")
    password: str = Field(
        "",
        description="Inline password: discouraged, refused when the config is readable "
        "by others. Prefer password_env or password_command.",
    )
    password_env: str = Field("", description="Environment variable holding the password.")
    password_command: str = Field(
        "", description="Shell command that prints the password (e.g. `pass show mail`)."
    )
    cafile: str = Field("", description="Extra CA bundle to trust (certificates are always verified).")
    timeout: float = Field(30, gt=0, le=600, description="Seconds before a connection gives up.")

    @model_validator(mode="after")
    def _one_secret(self) -> SmtpOptions:
        given = [n for n in ("password", "password_env", "password_command") if getattr(self, n)]
        if len(given) > 1:
            raise ValueError(f"give only one of {', '.join(given)}")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "tls": 465, "none": 25}[self.security]


class SmtpTransport:
    """Connect and log in first (`open`), then `send`; both raise DeliveryError."""

    def __init__(self, cfg: SmtpOptions, password: str | None) -> None:
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


class SmtpChannel(Channel):
    type_name = "smtp"
    options_model = SmtpOptions

    def __init__(self, name: str, options: ChannelOptions, where: str = "") -> None:
        super().__init__(name, options, where)
        assert isinstance(options, SmtpOptions)
        self.cfg = options
        self.transport: SmtpTransport | None = None

    def open(self) -> None:
        cfg = self.cfg
        try:
            password = secrets.resolve(self.where, cfg.password, cfg.password_env, cfg.password_command)
        except UserError as e:
            raise DeliveryError(str(e)) from None
        self.transport = SmtpTransport(cfg, password)
        self.transport.open()

    def send(self, digest: Outgoing) -> str:
        assert self.transport is not None, "open() first"
        self.send_message(message_of(digest))
        return f"{digest.recipient} via {self.cfg.host}"

    def send_message(self, msg: EmailMessage) -> None:
        assert self.transport is not None, "open() first"
        self.transport.send(msg)

    def check(self) -> str:
        self.open()  # connect, TLS and login; nothing is sent
        self.close()
        cfg = self.cfg
        login = f", logged in as {cfg.username}" if cfg.username else ""
        return f"{cfg.host}:{cfg.effective_port} ({cfg.security}) reachable{login}"

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

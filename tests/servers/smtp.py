"""A real SMTP server for system tests: aiosmtpd on loopback, TLS with a cert made at test time.

Import the fixtures into a test module (`from tests.servers.smtp import smtp_cert, smtp_server`)
so nothing outside tests/system depends on aiosmtpd. Each server binds 127.0.0.1 only, on a port
picked here (aiosmtpd's own `port=0` fails its start-up check), and is stopped at teardown.
"""

from __future__ import annotations

import email
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers.loopback import HOST, Cert, free_port, make_cert

USERNAME = "digest-bot"
PASSWORD = "s3cret-Pa55-do-not-log"

Security = Literal["starttls", "tls", "none"]


@dataclass
class Received:
    """One accepted message, with how it arrived."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    secure: bool  # the transport was TLS (STARTTLS or implicit) when DATA arrived
    login: str | None  # who authenticated, if anyone

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=default_policy)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Recorder:
    """aiosmtpd handler: keep every envelope so tests can inspect what was delivered."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        transport = server.transport
        secure = transport is not None and transport.get_extra_info("ssl_object") is not None
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        self.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                data=envelope.original_content or b"",
                secure=secure,
                login=login,
            )
        )
        return "250 Message accepted for delivery"


def authenticator(username: str, password: str) -> Callable[..., AuthResult]:
    """Accept exactly one login. A refusal must be `handled=False`, or smtplib waits for its timeout."""

    def check(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        if (
            isinstance(data, LoginPassword)
            and data.login == username.encode()
            and data.password == password.encode()
        ):
            return AuthResult(success=True, auth_data=data.login)
        return AuthResult(success=False, handled=False)

    return check


@dataclass
class SmtpServer:
    """A running aiosmtpd Controller on 127.0.0.1 and what it has received."""

    controller: Controller
    recorder: Recorder
    security: Security
    port: int
    cafile: str

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def config(self, **overrides: Any) -> dict[str, Any]:
        """The `[smtp]` section that reaches this server (password via password_env)."""
        cfg: dict[str, Any] = {
            "host": HOST,
            "port": self.port,
            "security": self.security,
            "timeout": 5,
        }
        if self.security != "none":
            cfg |= {"username": USERNAME, "password_env": "NUDGE_TEST_SMTP_PASSWORD", "cafile": self.cafile}
        cfg.update(overrides)
        return cfg

    def stop(self) -> None:
        if self.controller._thread is not None:
            self.controller.stop()


StartServer = Callable[..., SmtpServer]


def start_server(
    cert: Cert,
    security: Security = "starttls",
    port: int | None = None,
    username: str = USERNAME,
    password: str = PASSWORD,
) -> SmtpServer:
    """Start one server; `port` lets a test bring up a server where a client failed before."""
    port = port or free_port()
    recorder = Recorder()
    kwargs: dict[str, Any] = {"hostname": HOST, "port": port, "ready_timeout": 5.0}
    if security != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert.cert, cert.key)
        kwargs["authenticator"] = authenticator(username, password)
        if security == "starttls":
            kwargs |= {"tls_context": ctx, "require_starttls": True, "auth_require_tls": True}
        else:
            # Implicit TLS: aiosmtpd 1.4 only counts STARTTLS as "TLS" for auth_require_tls,
            # so it would never offer AUTH here; the socket is TLS from the first byte anyway.
            kwargs |= {"ssl_context": ctx, "auth_require_tls": False}
    controller = Controller(recorder, **kwargs)
    controller.start()
    return SmtpServer(controller, recorder, security, port, str(cert.cert))


@pytest.fixture
def smtp_cert(tmp_path: Path) -> Cert:
    return make_cert(tmp_path / "tls", "nudge test SMTP")


@pytest.fixture
def smtp_server(smtp_cert: Cert) -> Iterator[StartServer]:
    """Factory: `smtp_server(security="starttls"|"tls"|"none", port=None)`; all stopped at teardown."""
    started: list[SmtpServer] = []

    def start(security: Security = "starttls", port: int | None = None, **kwargs: Any) -> SmtpServer:
        server = start_server(smtp_cert, security, port, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()

"""The digest as an HTTP POST: JSON for scripts and Home Assistant, Slack/Mattermost, ntfy.

`format` picks the body:

- `json` (default): `{"id", "date", "subject", "text", "html", "calls": [...], "partners": [...],
  "capacity": {...}, "failing_sources": [...]}`; the picks are `nudge digest --json`'s.
  Home Assistant's webhook triggers, n8n, Node-RED and scripts read it as it is.
- `slack`: `{"text": "*subject*\\n\\ntext"}`, what Slack's and Mattermost's incoming webhooks take.
- `ntfy`: the plain text as the body, the subject in the `Title` header (RFC 2047 when it is not
  ASCII, which ntfy decodes), `Markdown: no`; the URL is the topic's (`https://ntfy.sh/mytopic`).

A bearer token (`token_env`, `token_command`; `token` inline only in a private config) goes in
`Authorization: Bearer ...`. Every request carries `Idempotency-Key: <the digest's id>`, the same
for every retry of a day, for receivers that deduplicate.

Sending is split like SMTP's: `open` connects (TCP, TLS) and nothing has been sent if it fails;
`send` writes the request and reads the answer. A 2xx answer is delivered; any other status, or
a connection that fails while the request is being written, is refused (DeliveryError: the day
is retried). Once the request is written, a timeout or a reset before the answer is ambiguous
(DeliveryUnknown): the receiver may have acted on it, so it is not sent again.
"""

from __future__ import annotations

import http.client
import json
import ssl
from email.header import Header
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from nudge import __version__, secrets
from nudge.channels.base import Channel, ChannelOptions, Outgoing
from nudge.errors import DeliveryError, DeliveryUnknown, UserError


class WebhookOptions(ChannelOptions):
    url: str = Field(
        description="Where to POST: http(s)://host[:port]/path (an ntfy topic, a Slack hook...)."
    )
    format: Literal["json", "slack", "ntfy"] = Field(
        "json", description="json (the digest and its picks), slack (Slack, Mattermost) or ntfy."
    )
    token: str = Field(
        "",
        description="Inline bearer token: discouraged, refused when the config is readable by others. "
        "Prefer token_env or token_command.",
    )
    token_env: str = Field("", description="Environment variable holding the bearer token.")
    token_command: str = Field("", description="Shell command that prints the bearer token.")
    timeout: float = Field(30, gt=0, le=600, description="Seconds before connecting or an answer gives up.")
    cafile: str = Field("", description="Extra CA bundle to trust (certificates are always verified).")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"use an http:// or https:// URL, not {v!r}")
        if parts.username or parts.password:
            raise ValueError("put the token in token_env or token_command, not in the URL")
        return v

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookOptions:
        given = [n for n in ("token", "token_env", "token_command") if getattr(self, n)]
        if len(given) > 1:
            raise ValueError(f"give only one of {', '.join(given)}")
        return self


def body_of(fmt: str, digest: Outgoing) -> tuple[bytes, dict[str, str]]:
    """The request body and its headers for `format`."""
    if fmt == "slack":
        text = f"*{digest.subject}*\n\n{digest.text}"
        return json.dumps({"text": text}, ensure_ascii=False).encode(), {"Content-Type": "application/json"}
    if fmt == "ntfy":
        title = digest.subject if digest.subject.isascii() else Header(digest.subject, "utf-8").encode()
        headers = {"Content-Type": "text/plain; charset=utf-8", "Title": title, "Markdown": "no"}
        return digest.text.encode(), headers
    payload = {
        "id": digest.message_id,
        "date": digest.day.isoformat(),
        "subject": digest.subject,
        "text": digest.text,
        "html": digest.html,
        **digest.data,
    }
    return json.dumps(payload, ensure_ascii=False).encode(), {"Content-Type": "application/json"}


class WebhookChannel(Channel):
    type_name = "webhook"
    options_model = WebhookOptions

    def __init__(self, name: str, options: ChannelOptions, where: str = "") -> None:
        super().__init__(name, options, where)
        assert isinstance(options, WebhookOptions)
        self.opts = options
        parts = urlsplit(options.url)
        self.host = parts.hostname or ""
        self.port = parts.port
        self.https = parts.scheme == "https"
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # Only scheme, host and port in messages: the path of a Slack or ntfy URL is a secret.
        self.label = f"webhook {name} ({parts.scheme}://{parts.netloc})"
        self.conn: http.client.HTTPConnection | None = None

    def _token(self) -> str | None:
        o = self.opts
        try:
            return secrets.resolve(self.where, o.token, o.token_env, o.token_command, key="token")
        except UserError as e:
            raise DeliveryError(str(e)) from None

    def open(self) -> None:
        self.token = self._token()
        if self.https:
            context = ssl.create_default_context(cafile=self.opts.cafile or None)
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.opts.timeout, context=context
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.opts.timeout)
        try:
            conn.connect()
        except ssl.SSLCertVerificationError as e:
            conn.close()
            raise DeliveryError(
                f"{self.label}: certificate not trusted: {e.verify_message} (set cafile?)"
            ) from None
        except OSError as e:
            conn.close()
            raise DeliveryError(f"{self.label}: cannot connect: {type(e).__name__}: {e}") from None
        self.conn = conn

    def send(self, digest: Outgoing) -> str:
        assert self.conn is not None, "open() first"
        body, headers = body_of(self.opts.format, digest)
        headers = {
            **headers,
            "User-Agent": f"nudge/{__version__}",
            "Idempotency-Key": digest.message_id.strip("<>"),
        }
        token = getattr(self, "token", None)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            try:
                self.conn.request("POST", self.path, body=body, headers=headers)
            except OSError as e:
                raise DeliveryError(f"{self.label}: sending failed: {type(e).__name__}: {e}") from None
            try:
                reply = self.conn.getresponse()
                status, reason = reply.status, reply.reason
                reply.read(64 * 1024)
            except (OSError, http.client.HTTPException) as e:
                raise DeliveryUnknown(
                    f"{self.label}: the request was sent but no answer came ({type(e).__name__}); "
                    "it may have arrived, so it is not sent again"
                ) from None
        finally:
            self.close()
        if not 200 <= status < 300:
            raise DeliveryError(f"{self.label}: refused: HTTP {status} {reason}")
        return self.label

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

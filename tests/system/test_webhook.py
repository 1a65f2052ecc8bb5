"""The webhook channel end to end: a real HTTP server on loopback that records and misbehaves.

Each channel delivers a day's digest at most once: a refusal (HTTP 500, no
connection) is retried, an answer that never comes after the request went out
(a stall, a reset) is ambiguous and never sent again, and a second channel is
never sent twice because the first one failed.
"""

# ruff: noqa: F811  (the fixtures imported below are requested by name as parameters)
from __future__ import annotations

import json
import mailbox
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from nudge import doctor, service
from nudge.channels.base import Outgoing
from nudge.channels.webhook import body_of
from nudge.config import Settings
from nudge.errors import ConfigError, DeliveryError
from nudge.store.models import Delivery, DigestRun
from tests.servers.loopback import free_port
from tests.servers.webhook import WebhookServer
from tests.system.test_daemon import Setup, setup, wait_for  # noqa: F401  (setup: a fixture)
from tests.system.test_delivery import DAY, PICKED, Book, _password, book, seed  # noqa: F401  (fixtures)

TOKEN_ENV = "NUDGE_TEST_WEBHOOK_TOKEN"
TOKEN = "tk_s3cret-bearer"


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def webhook(url: str, **options: Any) -> dict[str, Any]:
    return {"type": "webhook", "name": "hook", "url": url, "token_env": TOKEN_ENV, "timeout": 2, **options}


def deliveries(book: Book) -> dict[str, str]:
    with Session(book.engine) as s:
        return {d.channel: d.state for d in s.exec(select(Delivery).where(Delivery.date == DAY))}


def day_state(book: Book) -> str:
    with Session(book.engine) as s:
        run = s.exec(select(DigestRun).where(DigestRun.date == DAY)).one()
        return run.state


def test_json_webhook_gets_the_digest_and_its_picks_once_a_day(
    book: Book, hook: WebhookServer, now: datetime
) -> None:
    settings = book.configure(channels=[webhook(hook.url)])

    result = service.send_digest(book.engine, settings, now)
    again = service.send_digest(book.engine, settings, now)

    assert result.state == "sent" and again.state == "already_sent"
    [got] = hook.received
    assert got.path == "/hook" and got.headers["authorization"] == f"Bearer {TOKEN}"
    assert got.headers["content-type"] == "application/json"
    body = got.json()
    assert body["subject"] == result.subject and body["text"] == result.text and body["html"] == result.html
    assert body["date"] == DAY.isoformat() and got.headers["idempotency-key"] == body["id"].strip("<>")
    names = [c["name"] for c in body["calls"]] + [p["name"] for p in body["partners"]]
    assert sorted(names) == sorted(PICKED)
    assert all(c["why"] and c["prompt"] for c in body["calls"])
    assert deliveries(book) == {"hook": "sent"} and day_state(book) == "sent"


def test_slack_and_ntfy_bodies(book: Book, hook: WebhookServer, now: datetime) -> None:
    slack = service.send_digest(
        book.engine, book.configure(channels=[webhook(hook.url, format="slack")]), now
    )
    ntfy = service.send_digest(
        book.engine, book.configure(channels=[webhook(hook.url, format="ntfy")]), now, force=True
    )

    first, second = hook.received
    assert first.json() == {"text": f"*{slack.subject}*\n\n{slack.text}"}
    assert second.headers["content-type"] == "text/plain; charset=utf-8"
    assert second.headers["title"] == ntfy.subject and second.body.decode() == ntfy.text


def test_a_subject_that_is_not_ascii_goes_to_ntfy_encoded() -> None:
    digest = Outgoing(
        date(2026, 11, 23), "<x@y>", "Be curious today: Zoë Çelik", "text", "<p/>", "a", "b", datetime.now()
    )
    body, headers = body_of("ntfy", digest)
    assert headers["Title"].startswith("=?utf-8?") and body == b"text"


def test_a_500_is_refused_and_retried_until_it_is_delivered_once(
    book: Book, hook: WebhookServer, now: datetime
) -> None:
    settings = book.configure(channels=[webhook(hook.url)])
    hook.mode = "500"

    with pytest.raises(DeliveryError, match=r"refused: HTTP 500"):
        service.send_digest(book.engine, settings, now)
    assert deliveries(book) == {"hook": "failed"} and day_state(book) == "failed"

    hook.mode = "ok"
    assert service.send_digest(book.engine, settings, now).state == "sent"
    assert service.send_digest(book.engine, settings, now).state == "already_sent"
    assert len(hook.received) == 2  # the refused one, then the one accepted; never a third
    assert deliveries(book) == {"hook": "sent"} and day_state(book) == "sent"


@pytest.mark.parametrize("mode", ["stall", "reset"])
def test_no_answer_after_the_request_is_ambiguous_and_never_resent(
    book: Book, hook: WebhookServer, now: datetime, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = book.configure(channels=[webhook(hook.url, timeout=1)])
    hook.mode = mode

    first = service.send_digest(book.engine, settings, now)
    hook.mode = "ok"
    second = service.send_digest(book.engine, settings, now)

    assert first.state == "ambiguous" and second.state == "ambiguous"
    assert len(hook.received) == 1  # it may have been acted on: never sent again
    assert deliveries(book) == {"hook": "sending"} and day_state(book) == "sending"
    assert "it may have arrived, so it is not sent again" in caplog.text


def test_a_refused_connection_fails_before_sending_and_is_retried(
    book: Book, hook: WebhookServer, now: datetime
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(DeliveryError, match=r"webhook hook \(http://127.0.0.1:\d+\): cannot connect"):
        service.send_digest(book.engine, book.configure(channels=[webhook(closed)]), now)
    assert deliveries(book) == {"hook": "failed"} and day_state(book) == "failed"

    assert service.send_digest(book.engine, book.configure(channels=[webhook(hook.url)]), now).state == "sent"
    assert len(hook.received) == 1


def test_each_channel_delivers_at_most_once_when_another_fails(
    book: Book, hook: WebhookServer, now: datetime, tmp_path: Path
) -> None:
    box = tmp_path / "Box"
    settings = book.configure(channels=[{"type": "maildir", "path": str(box)}, webhook(hook.url)])
    hook.mode = "500"
    with pytest.raises(DeliveryError):
        service.send_digest(book.engine, settings, now)
    assert deliveries(book) == {"maildir": "sent", "hook": "failed"}

    hook.mode = "ok"
    result = service.send_digest(book.engine, settings, now)

    assert result.state == "sent" and result.where.startswith("webhook hook")
    assert len(mailbox.Maildir(str(box), create=False)) == 1  # the Maildir is not sent twice
    assert len(hook.received) == 2
    assert deliveries(book) == {"maildir": "sent", "hook": "sent"} and day_state(book) == "sent"


def test_the_token_and_the_secret_path_never_appear_in_errors(
    book: Book, hook: WebhookServer, now: datetime
) -> None:
    hook.mode = "500"
    secret_url = hook.url + "/T000/B000/very-secret-path"
    with pytest.raises(DeliveryError) as err:
        service.send_digest(book.engine, book.configure(channels=[webhook(secret_url)]), now)
    assert "very-secret-path" not in str(err.value) and TOKEN not in str(err.value)
    assert hook.received[0].path.endswith("/very-secret-path")


def test_channel_config_problems_are_reported_at_once(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError) as err:
        make_settings(
            channels=[
                {"type": "webhook", "url": "ftp://example.org/x"},
                {"type": "webhook", "url": "https://h.example/x", "token_env": "A", "token_command": "b"},
                {"type": "pigeon"},
            ]
        )
    assert err.value.problems == [
        "channels[0].url: use an http:// or https:// URL, not 'ftp://example.org/x'",
        "channels[1]: give only one of token_env, token_command",
        "channels[2].type: unknown channel type 'pigeon'; known: maildir, smtp, webhook",
    ]


def test_the_old_form_and_channels_together_are_refused(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match=r"give the digest's channels as \[\[channels\]\] only"):
        make_settings(channels=[{"type": "maildir"}], smtp={"host": "h"})


def test_doctor_reaches_the_webhook_and_names_the_old_form(
    hook: WebhookServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "n.db"
    base = f'timezone = "UTC"\ndatabase_url = "sqlite:///{store}"\n[me]\nemails = ["me@example.com"]\n'
    new = tmp_path / "new.toml"
    new.write_text(base + f'[[channels]]\ntype = "webhook"\nname = "ha"\nurl = "{hook.url}"\n')
    old = tmp_path / "old.toml"
    old.write_text(f'maildir = "{tmp_path / "Maildir"}"\n' + base)

    checks = {c.name: c for c in doctor.run_checks(str(new))}
    assert checks["channel ha"].ok and checks["channel ha"].detail == "reachable"
    assert "channels" not in checks
    assert hook.received == []  # reached, nothing sent
    olds = {c.name: c for c in doctor.run_checks(str(old))}
    assert olds["channels"].ok and "maildir is the old form" in olds["channels"].detail


def test_the_daemon_retries_a_refusing_webhook_and_delivers_it_once(
    setup: Setup, hook: WebhookServer
) -> None:
    setup.write(digest_in=3)
    text = setup.config.read_text().replace(f'maildir = "{setup.maildir}"\n', "")
    setup.config.write_text(text + f'\n[[channels]]\ntype = "webhook"\nname = "hook"\nurl = "{hook.url}"\n')
    hook.mode = "500"
    proc = setup.start()
    wait_for(lambda: "retrying in" in setup.log(), what="a refused attempt")
    hook.mode = "ok"
    wait_for(lambda: len(hook.received) >= 2, timeout=90, what="the retried digest")
    time.sleep(2)
    setup.stop(proc)
    again = setup.start()
    wait_for(lambda: "already sent" in setup.log(), what="the restart")
    setup.stop(again)
    accepted = [r for r in hook.received[1:]]
    assert len(accepted) == 1 and json.loads(accepted[0].body)["subject"].startswith("Be curious today")

"""A webhook receiver on loopback that records what it is sent, and fails on purpose.

hook = WebhookServer()            # 127.0.0.1, a free port; hook.url
hook.mode = "500"                 # answer 500 Internal Server Error
hook.mode = "stall"               # read the request, never answer (the client times out)
hook.mode = "reset"               # read the request, then reset the connection (RST)
hook.mode = "ok"                  # 200 (the default)
hook.received                     # [Received(method, path, headers, body), ...] in order
hook.close()                      # afterwards its port refuses connections

Every request is recorded once it has been read whole, whatever the mode, so
a test can tell "the server got it but did not say so" from "it never arrived".
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers.loopback import HOST

MODES = ("ok", "500", "stall", "reset")


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (its timeout) is part of the test, not a traceback on stderr."""


class WebhookServer:
    def __init__(self) -> None:
        self.mode = "ok"
        self.received: list[Received] = []
        self.release = threading.Event()  # ends the stalls, so close() does not wait for them
        self._lock = threading.Lock()
        self.server = _Server((HOST, 0), self._handler())
        self.port = int(self.server.server_address[1])
        self.url = f"http://{HOST}:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with owner._lock:
                    owner.received.append(
                        Received(
                            "POST",
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    mode = owner.mode
                if mode == "stall":
                    owner.release.wait(30)
                    self.close_connection = True
                    return
                if mode == "reset":
                    # SO_LINGER 0: close() sends RST instead of FIN.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                status = 500 if mode == "500" else 200
                reply = b'{"ok": false}' if status == 500 else b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        return Handler

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

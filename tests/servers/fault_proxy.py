"""A loopback reverse proxy that counts requests and injects faults in front of a server.

proxy = FaultProxy(radicale.url)
proxy.fail("REPORT", b"multiget", status=500, after=1)   # the 2nd multiget gets a 500
proxy.rewrite = lambda req, status, body: body.replace(b"a", b"b")
proxy.requests                                            # [(method, path, body, auth), ...]
proxy.require_digest("alex", "secret")                    # answer 401 unless Digest; Basic upstream
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from requests.utils import parse_dict_header

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade"}
METHODS = (
    "GET",
    "HEAD",
    "PUT",
    "DELETE",
    "PROPFIND",
    "PROPPATCH",
    "REPORT",
    "MKCOL",
    "MKCALENDAR",
    "OPTIONS",
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    auth: str = ""  # the scheme of the Authorization header sent, lower case ("" for none)


@dataclass
class Fault:
    method: str
    needle: bytes  # must occur in the request body (b"" matches every body)
    status: int
    body: bytes
    after: int  # matching requests let through first
    times: int  # then this many get the fault


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (a test's timeout) is not worth a traceback on stderr."""


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        up = urlsplit(upstream)
        self.upstream = (up.hostname or "127.0.0.1", up.port or 80)
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        #: (request, status, body) -> new body, applied to every upstream reply.
        self.rewrite: Callable[[Request, int, bytes], bytes] | None = None
        self._lock = threading.Lock()
        self._digest: tuple[str, str, bool] | None = None  # user, password, also offer Basic
        self._nonce = secrets.token_hex(16)
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def fail(
        self,
        method: str,
        needle: bytes = b"",
        status: int = 500,
        after: int = 0,
        times: int = 1,
        body: bytes = b"",
    ) -> None:
        self.faults.append(Fault(method, needle, status, body, after, times))

    def require_digest(self, user: str, password: str, also_basic: bool = False) -> None:
        """Demand HTTP Digest (RFC 7616, MD5, qop=auth) and log in upstream with Basic."""
        self._digest = (user, password, also_basic)

    def _challenge(self) -> list[tuple[str, str]]:
        assert self._digest is not None
        headers = [("WWW-Authenticate", f'Digest realm="nudge-test", nonce="{self._nonce}", qop="auth"')]
        if self._digest[2]:
            headers.append(("WWW-Authenticate", 'Basic realm="nudge-test"'))
        return headers

    def _digest_ok(self, method: str, header: str) -> bool:
        assert self._digest is not None
        user, password, _ = self._digest
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "digest":
            return False
        p = parse_dict_header(rest)

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1, ha2 = md5(f"{user}:{p.get('realm')}:{password}"), md5(f"{method}:{p.get('uri')}")
        want = md5(f"{ha1}:{self._nonce}:{p.get('nc')}:{p.get('cnonce')}:auth:{ha2}")
        return p.get("username") == user and p.get("nonce") == self._nonce and p.get("response") == want

    def count(self, method: str, needle: bytes = b"") -> int:
        return sum(1 for r in self.requests if r.method == method and needle in r.body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _fault_for(self, req: Request) -> Fault | None:
        with self._lock:
            self.requests.append(req)
            for fault in self.faults:
                if fault.method == req.method and fault.needle in req.body and fault.times:
                    if fault.after:
                        fault.after -= 1
                        continue
                    fault.times -= 1
                    return fault
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _proxy(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                given = self.headers.get("Authorization", "")
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, self.path, body, given.partition(" ")[0].lower())
                fault = proxy._fault_for(req)
                if fault is not None:
                    self._reply(fault.status, [("Content-Type", "text/plain")], fault.body or b"injected")
                    return
                upstream_auth = given
                if proxy._digest is not None:
                    if not proxy._digest_ok(self.command, given):
                        self._reply(401, proxy._challenge(), b"digest wanted")
                        return
                    user, password, _ = proxy._digest
                    upstream_auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=600)
                try:
                    headers = {
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() not in HOP | {"host", "accept-encoding", "authorization"}
                    }
                    if upstream_auth:
                        headers["Authorization"] = upstream_auth
                    conn.request(req.method, req.path, body=req.body or None, headers=headers)
                    resp = conn.getresponse()
                    body = resp.read()
                    status, out = resp.status, [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP]
                finally:
                    conn.close()
                if proxy.rewrite is not None:
                    body = proxy.rewrite(req, status, body)
                self._reply(status, out, body)

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        for method in METHODS:
            setattr(Handler, f"do_{method}", Handler._proxy)
        return Handler

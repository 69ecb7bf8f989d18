"""What the demo's local servers (source systems, sales sandbox) share: an HTTP server on
127.0.0.1 run in a thread, a handler that answers JSON, and seeded fault dice."""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class JsonHandler(BaseHTTPRequestHandler):
    """Answers with JSON bodies, keep-alive, no per-request log lines."""

    protocol_version = "HTTP/1.1"
    content_type = "application/json"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no per-request lines
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)


class LoopbackServer:
    """Subclasses set ``rng`` and ``lock`` and call ``_listen`` with their handler class; the handler
    reaches the server object as ``self.app``."""

    rng: random.Random
    lock: threading.Lock | threading.RLock

    def _listen(self, handler: type[BaseHTTPRequestHandler], port: int) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), type("Handler", (handler,), {"app": self}))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def roll(self, rate: float) -> bool:
        """True with probability ``rate`` (a fault to serve)."""
        with self.lock:
            return rate > 0 and self.rng.random() < rate

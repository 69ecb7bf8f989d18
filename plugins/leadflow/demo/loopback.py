"""What the demo's local servers (source systems, sales sandbox) share: an HTTP server on
127.0.0.1 run in a thread, and seeded fault dice."""

from __future__ import annotations

import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


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

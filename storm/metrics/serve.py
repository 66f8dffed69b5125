"""`storm metrics serve`: expose the scan's textfile on /metrics for Prometheus to scrape.

For hosts without a Pushgateway: the nightly scan writes the textfile, this
small server hands its latest content to every scrape. It listens on
loopback unless told otherwise (`--host 0.0.0.0`): the scores are not for
every network the host is on. A connection idle for READ_TIMEOUT_SECONDS is
closed, and beyond MAX_CONNECTIONS at once new ones are closed unanswered, so
idle sockets cannot pile up threads.
"""

from __future__ import annotations

import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST

DEFAULT_HOST = "127.0.0.1"
READ_TIMEOUT_SECONDS = 10.0
MAX_CONNECTIONS = 32


class TextfileHandler(BaseHTTPRequestHandler):
    timeout = READ_TIMEOUT_SECONDS  # socket timeout for every connection (StreamRequestHandler applies it)

    def __init__(self, *args, textfile: Path, **kwargs):
        self.textfile = textfile
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.split("?", 1)[0] != "/metrics":
            self._reply(404, b"storm metrics are at /metrics\n", "text/plain; charset=utf-8")
            return
        try:
            body = self.textfile.read_bytes()
        except FileNotFoundError:
            message = f"no metrics yet: {self.textfile} does not exist; run `storm scan` or `storm metrics push`\n"
            self._reply(503, message.encode(), "text/plain; charset=utf-8")
            return
        self._reply(200, body, CONTENT_TYPE_LATEST)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # scrapes every few seconds: keep stderr quiet
        pass


class BoundedThreadingHTTPServer(ThreadingHTTPServer):
    """A thread per connection, at most `max_connections` at once: one more is closed without an answer."""

    daemon_threads = True

    def __init__(self, address, handler, max_connections: int = MAX_CONNECTIONS):
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def make_server(textfile: str | Path, port: int, host: str = DEFAULT_HOST, read_timeout: float = READ_TIMEOUT_SECONDS,
                max_connections: int = MAX_CONNECTIONS) -> ThreadingHTTPServer:
    """A server (not yet serving) that answers /metrics with the textfile's current content."""
    handler_type = type("TimedTextfileHandler", (TextfileHandler,), {"timeout": read_timeout})
    handler = partial(handler_type, textfile=Path(textfile).expanduser().resolve())
    return BoundedThreadingHTTPServer((host, port), handler, max_connections=max_connections)


def serve_textfile(textfile: str | Path, port: int, host: str = DEFAULT_HOST) -> None:
    """Serve until interrupted."""
    server = make_server(textfile, port, host)
    try:
        server.serve_forever()
    finally:
        server.server_close()

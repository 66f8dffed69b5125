"""`storm metrics serve`: expose the scan's textfile on /metrics for Prometheus to scrape.

For hosts without a Pushgateway: the nightly scan writes the textfile, this
small server hands its latest content to every scrape. It listens on
loopback unless told otherwise (`--host 0.0.0.0`): the scores are not for
every network the host is on.
"""

from __future__ import annotations

from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST

DEFAULT_HOST = "127.0.0.1"


class TextfileHandler(BaseHTTPRequestHandler):
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


def make_server(textfile: str | Path, port: int, host: str = DEFAULT_HOST) -> ThreadingHTTPServer:
    """A server (not yet serving) that answers /metrics with the textfile's current content."""
    handler = partial(TextfileHandler, textfile=Path(textfile).expanduser().resolve())
    return ThreadingHTTPServer((host, port), handler)


def serve_textfile(textfile: str | Path, port: int, host: str = DEFAULT_HOST) -> None:
    """Serve until interrupted."""
    server = make_server(textfile, port, host)
    try:
        server.serve_forever()
    finally:
        server.server_close()

"""The HTTP side: `/metrics` in Prometheus text or OpenMetrics by the Accept header, on a loopback address by default.

prometheus_client's own `start_http_server` binds every interface unless told otherwise; pmutop parses the
address itself and refuses a non-loopback one unless the user said `--allow-remote`, because counters name
what runs on the machine.
"""

import gzip
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.exposition import choose_encoder

from pmutop.export.collector import ExpositionCollector, ScrapeStats
from pmutop.export.totals import Exposition

DEFAULT_PORT = 9768
# Level 1 costs a fraction of level 9's time for nearly the same size on this repetitive text.
GZIP_LEVEL = 1
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
LANDING = b'<html><body><h1>pmutop exporter</h1><p><a href="/metrics">/metrics</a></p></body></html>\n'


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    @property
    def family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def url(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port if port is None else port}/metrics"


def parse_listen(text: str) -> ListenAddress:
    """HOST:PORT, [IPV6]:PORT or :PORT (loopback); a ValueError says what is wrong."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ValueError(f"{text!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"port {port_text!r} is not a number from 0 to 65535")
    return ListenAddress(host or "127.0.0.1", int(port_text))


def is_loopback(host: str) -> bool:
    """Whether every address the host name resolves to is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:
        """Scrapes every few seconds would flood the terminal."""


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def metrics_app(latest: Callable[[], Exposition | None], scrapes: ScrapeStats):
    """A WSGI app: `/metrics` renders the newest Exposition; `/` links to it; anything else is 404."""

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path == "/":
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [LANDING]
        if path != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not found: pmutop serves /metrics\n"]
        exposition = latest()
        if exposition is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"no tick read yet\n"]
        started = time.perf_counter()
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        try:
            body = encoder(ExpositionCollector(exposition, scrapes))
        except Exception as exc:
            scrapes.record(time.perf_counter() - started, failed=True)
            start_response("500 Internal Server Error", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"scrape failed: {type(exc).__name__}: {exc}\n".encode()]
        headers = [("Content-Type", content_type)]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            # Prometheus asks for gzip: a big machine's exposition shrinks about 14-fold.
            body = gzip.compress(body, compresslevel=GZIP_LEVEL)
            headers.append(("Content-Encoding", "gzip"))
        scrapes.record(time.perf_counter() - started, failed=False)
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return app


class MetricsServer:
    """Binds at construction; `start()` serves on daemon threads; `close()` stops them and frees the port."""

    def __init__(self, address: ListenAddress, latest: Callable[[], Exposition | None]) -> None:
        server_class = type("_Server", (_ThreadingServer,), {"address_family": address.family})
        self.scrapes = ScrapeStats()
        self._server: WSGIServer = make_server(
            address.host, address.port, metrics_app(latest, self.scrapes), server_class, _QuietHandler
        )
        self.address = address
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="pmutop-export-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

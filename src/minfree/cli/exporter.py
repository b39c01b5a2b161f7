"""``minfree exporter``: serve the reserve metrics to Prometheus, or write them once.

    minfree exporter [--listen 127.0.0.1:9945] [--textfile PATH] [--no-kmsg] [--root PATH]

The HTTP mode binds to loopback unless told otherwise, answers only ``GET /metrics`` (404
for other paths, 405 for other methods) and writes nothing. Each scrape reads the host
afresh (see :mod:`minfree.outputs.prometheus`). ``--textfile`` writes the same metrics
atomically (temporary file, fsync, rename) for node_exporter's textfile collector and exits.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import socket
import sys
import threading
from typing import Any

from minfree.errors import SourceError, UsageError

DEFAULT_LISTEN = "127.0.0.1:9945"
#: Concurrent scrapes served at once; more get 503 (protects the host being watched).
MAX_CONCURRENT_SCRAPES = 64
#: Seconds a client may take to send its request before the connection is dropped.
REQUEST_TIMEOUT_SECONDS = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``minfree exporter`` (see the module docstring)."""
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"address to serve /metrics on (default {DEFAULT_LISTEN}; [::1]:PORT for IPv6)",
    )
    parser.add_argument(
        "--textfile",
        metavar="PATH",
        help="write the metrics once to PATH (atomically, for node_exporter's textfile collector) and exit",
    )
    parser.add_argument(
        "--no-kmsg",
        action="store_true",
        help="do not follow /dev/kmsg (no page allocation failure metrics on the live host)",
    )
    parser.add_argument(
        "--root",
        metavar="PATH",
        help="read a captured root, sosreport or bundle instead of this host",
    )
    parser.add_argument(
        "--analysis-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how often the doctor's findings and recommended reserve are recomputed in the "
             "background (default 60, at least 5)",
    )
    parser.add_argument(
        "--scrape-timeout",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="time budget of one scrape; sources not read by then are skipped and counted (default 2)",
    )


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port). IPv6 literals need brackets: ``[::1]:9945``.

    >>> parse_listen("127.0.0.1:9945"), parse_listen("[::1]:80"), parse_listen("localhost:1")
    (('127.0.0.1', 9945), ('::1', 80), ('localhost', 1))
    """
    text = value.strip()
    if text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep:
            raise UsageError(f"--listen {value!r}: expected [IPV6]:PORT")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UsageError(f"--listen {value!r}: {host!r} is not an IPv6 address") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise UsageError(f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:9945")
        if ":" in host:
            raise UsageError(
                f"--listen {value!r}: write IPv6 addresses in brackets, e.g. [::1]:9945"
            )
    if not host:
        raise UsageError(
            f"--listen {value!r}: give the address to bind (0.0.0.0 to listen on every interface)"
        )
    # Port 0 asks the kernel for a free port (printed at start-up): handy for tests.
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"--listen {value!r}: port must be a number from 0 to 65535")
    return host, int(port_text)


def _make_server(host: str, port: int, registry: Any) -> Any:
    """A threading HTTP server serving only ``GET /metrics`` from ``registry``."""
    import gzip
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from minfree.outputs.prometheus import exposition

    slots = threading.BoundedSemaphore(MAX_CONCURRENT_SCRAPES)
    content_type = "text/plain; version=0.0.4; charset=utf-8"

    class Handler(BaseHTTPRequestHandler):
        server_version = "minfree-exporter"
        sys_version = ""
        protocol_version = "HTTP/1.1"
        timeout = REQUEST_TIMEOUT_SECONDS
        # Headers and body leave in two writes; with Nagle on, a keep-alive client's delayed
        # ACK holds the second one back ~40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            # Quiet by default: a scrape every few seconds would flood the journal.
            pass

        def _reply(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path != "/metrics":
                self._reply(
                    404,
                    b"not found: only /metrics is served\n",
                    {"Content-Type": "text/plain; charset=utf-8"},
                )
                return
            if not slots.acquire(blocking=False):
                self._reply(
                    503,
                    b"too many concurrent scrapes\n",
                    {"Content-Type": "text/plain; charset=utf-8", "Retry-After": "1"},
                )
                return
            try:
                body = exposition(registry)
            except Exception as error:  # a bug must cost one scrape, not the exporter
                print(f"minfree exporter: scrape failed: {type(error).__name__}: {error}",
                      file=sys.stderr, flush=True)
                self._reply(500, b"scrape failed; see the exporter's log\n",
                            {"Content-Type": "text/plain; charset=utf-8"})
                return
            finally:
                slots.release()
            headers = {"Content-Type": content_type}
            if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                body = gzip.compress(body, compresslevel=1)
                headers["Content-Encoding"] = "gzip"
            self._reply(200, body, headers)

        def _not_allowed(self) -> None:
            self._reply(
                405,
                b"method not allowed: only GET\n",
                {"Allow": "GET", "Content-Type": "text/plain; charset=utf-8"},
            )

        def __getattr__(self, name: str) -> Any:
            # BaseHTTPRequestHandler looks up do_<METHOD>; every method but GET gets 405.
            if name.startswith("do_"):
                return self._not_allowed
            raise AttributeError(name)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        # socketserver's default backlog of 5 drops SYNs when a few dozen scrapers connect
        # at once; the client then retries after 1, 3, 7 s... and times out.
        request_queue_size = 128

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    Server.address_family = family
    return Server((host, port), Handler)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM (exit 0) or Ctrl-C (130), or write the textfile once (exit 0).

    Bad values (listen address, port in use, textfile path, root) raise MinfreeError
    subclasses: one line on stderr and exit 2.
    """
    import logging

    from minfree.outputs.prometheus import (
        MinfreeCollector,
        build_registry,
        exposition,
        write_textfile,
    )

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("minfree exporter: %(message)s"))
    logger = logging.getLogger("minfree.exporter")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

    if not 0 < args.scrape_timeout <= 60:  # also rejects nan
        raise UsageError("--scrape-timeout must be more than 0 and at most 60 seconds")
    if not 5 <= args.analysis_interval <= 86400:
        raise UsageError("--analysis-interval must be between 5 and 86400 seconds")
    if args.textfile is None:
        host, port = parse_listen(args.listen)
    if args.textfile is not None:
        directory = os.path.dirname(os.path.abspath(args.textfile))
        if not os.path.isdir(directory):
            raise UsageError(f"--textfile {args.textfile}: directory {directory} does not exist")
        if os.path.isdir(args.textfile):
            raise UsageError(f"--textfile {args.textfile}: is a directory")

    collector = MinfreeCollector(
        args.root,
        follow_kmsg=not args.no_kmsg,
        scrape_budget_seconds=args.scrape_timeout,
        analysis_in_background=args.textfile is None,
        analysis_interval_seconds=args.analysis_interval,
    )
    try:
        registry = build_registry(collector)
        if args.textfile is not None:
            write_textfile(args.textfile, exposition(registry))
            return 0
        try:
            server = _make_server(host, port, registry)
        except socket.gaierror as error:
            raise UsageError(
                f"--listen {args.listen}: cannot resolve {host!r} ({error.strerror})"
            ) from None
        except OSError as error:
            raise SourceError(f"--listen {args.listen}: cannot bind ({error.strerror})") from None
        stop = threading.Event()

        def on_term(signum: int, frame: Any) -> None:
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

        previous = signal.signal(signal.SIGTERM, on_term)
        bound_host, bound_port = server.server_address[:2]
        shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
        print(
            f"minfree exporter: serving http://{shown}:{bound_port}/metrics",
            file=sys.stderr,
            flush=True,
        )
        try:
            server.serve_forever(poll_interval=0.5)
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.server_close()
        return 0
    finally:
        collector.close()

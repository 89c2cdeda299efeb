"""Real sockets that misbehave the ways networks do, all on loopback."""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


@contextmanager
def speaking_server(greeting: bytes) -> Iterator[int]:
    """A TCP server that sends ``greeting`` to every client (b"" = says nothing)."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            if greeting:
                self.request.sendall(greeting)
            self.request.settimeout(30)
            with suppress(OSError):
                self.request.recv(1024)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(("127.0.0.1", 0), Handler) as srv:
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        yield srv.server_address[1]
        srv.shutdown()


@contextmanager
def dropping_port() -> Iterator[int]:
    """A port whose SYNs are dropped, as a firewall does: the accept queue is kept full."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    held = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        held.append(c)
    try:
        yield port
    finally:
        for c in held:
            c.close()
        srv.close()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def serve_nxdomain(sock: socket.socket) -> None:
    """Answer every DNS query on ``sock`` with NXDOMAIN (a name that does not exist)."""
    while True:
        try:
            data, peer = sock.recvfrom(512)
        except OSError:
            return
        if len(data) < 12:
            continue
        (qid,) = struct.unpack("!H", data[:2])
        question = data[12:]
        # QR=1, RD=1, RA=1, RCODE=3 (NXDOMAIN); the question is echoed back.
        flags = 0x8183
        sock.sendto(struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0) + question, peer)


if __name__ == "__main__":  # run inside a network namespace by the DNS test
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 53))
    serve_nxdomain(s)

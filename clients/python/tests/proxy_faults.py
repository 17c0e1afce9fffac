"""A real TCP proxy in front of Coffer that fails the next connections on purpose.

Faults, each for the next N connections (then it relays faithfully):
- `drop_before`: read the request, close the connection; Coffer never sees it.
- `drop_after`: relay the request to Coffer, read its whole answer, close the
  client's connection without sending it (Coffer acted; the client saw nothing).
- `bad_gateway`: answer `502 Bad Gateway` itself, as a load balancer would.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import deque
from types import TracebackType
from typing import Literal, Self

Fault = Literal["drop_before", "drop_after", "bad_gateway"]
_GATEWAY = (
    b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
    b"Connection: close\r\n\r\nbad gateway"
)


def _read_message(sock: socket.socket) -> bytes:
    """One HTTP/1.1 message (headers and a Content-Length body); b"" if the peer closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class FaultyProxy:
    """Listens on 127.0.0.1:`port`, relays to 127.0.0.1:`upstream`."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.faults: deque[Fault] = deque()
        self.connections = 0
        self.faulted: list[Fault] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._closing = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def fail_next(self, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self.faults.extend([fault] * times)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
        self._listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                fault = self.faults.popleft() if self.faults else None
                if fault:
                    self.faulted.append(fault)
            threading.Thread(target=self._serve, args=(client, fault), daemon=True).start()

    def _serve(self, client: socket.socket, fault: Fault | None) -> None:
        with contextlib.ExitStack() as stack:
            stack.enter_context(client)
            if fault == "drop_before":
                _read_message(client)
                return
            if fault == "bad_gateway":
                _read_message(client)
                client.sendall(_GATEWAY)
                return
            upstream = stack.enter_context(socket.create_connection(("127.0.0.1", self.upstream)))
            if fault == "drop_after":
                upstream.sendall(_read_message(client))
                _read_message(upstream)  # Coffer answered; the client never hears it
                return
            self._relay(client, upstream)

    @staticmethod
    def _relay(client: socket.socket, upstream: socket.socket) -> None:
        def pump(source: socket.socket, sink: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while chunk := source.recv(65536):
                    sink.sendall(chunk)
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        back.start()
        pump(client, upstream)
        back.join(timeout=30)

"""A loopback TCP proxy for fault tests: one test's processes reach a real server through it, and the test can cut
every live connection, refuse or hold new ones, and let them through again -- without touching the shared server."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType
from typing import Literal

from sqlalchemy.engine import make_url

Mode = Literal["open", "refuse", "hold"]
# Closing with SO_LINGER (on, 0 s) sends a reset: the peer sees its connection die at once, as after a crash.
_RESET = struct.pack("ii", 1, 0)


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class TCPProxy:
    """Listens on 127.0.0.1:<free port> and forwards each connection to `target` (loopback only).

    `cut()` resets every live connection (a server restart or a failover); `pause()` then makes new connections
    fail at once ("refuse": nothing listens on the port) or wait unanswered ("hold": a server that hangs);
    `resume()` forwards again (held connections go through)."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        assert target_host.startswith("127."), "fault tests stay on loopback"
        self.target = (target_host, target_port)
        self.mode: Mode = "open"
        self.accepted = 0                                 # connections forwarded, for tests that count them
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._held: list[socket.socket] = []
        self._listener: socket.socket | None = self._listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="tcpproxy", daemon=True)
        self._thread.start()

    # -- what a test does --------------------------------------------------------------------------------------

    def url(self, database_url: str) -> str:
        """The same database URL, through this proxy."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def cut(self) -> int:
        """Reset every live connection; returns how many there were."""
        with self._lock:
            live, self._live = self._live, set()
        for sock in live:
            _reset(sock)
        return len(live) // 2

    def pause(self, mode: Literal["refuse", "hold"] = "refuse") -> None:
        """New connections fail at once (refuse) or hang (hold) until `resume()`; live ones are left alone."""
        with self._lock:
            self.mode = mode
            if mode == "refuse" and self._listener is not None:
                # shutdown first: it stops the listening at once, even while the accept loop still polls it.
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None

    def resume(self) -> None:
        with self._lock:
            self.mode = "open"
            if self._listener is None:
                self._listener = self._listen(self.port)
            held, self._held = self._held, []
        for client in held:
            self._forward(client)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            held, self._held = self._held, []
        for sock in held:
            _reset(sock)
        self.cut()

    def __enter__(self) -> TCPProxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- the plumbing ------------------------------------------------------------------------------------------

    @staticmethod
    def _listen(port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # the same port again after a "refuse"
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        sock.settimeout(0.1)
        return sock

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            with self._lock:
                listener = self._listener
            if listener is None:
                self._closed.wait(0.05)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue                        # the poll's timeout, or the listener closed by pause()
            client.settimeout(None)
            with self._lock:
                if self.mode == "hold":
                    self._held.append(client)
                    continue
            self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        server.settimeout(None)
        with self._lock:
            self._live.update((client, server))
            self.accepted += 1
        for src, dst in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(src, dst), name="tcpproxy-pump", daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        with self._lock:
            mine = src in self._live or dst in self._live
            self._live.difference_update((src, dst))
        if mine:                                 # one side ended: end the other (a cut already reset both)
            _reset(src)
            _reset(dst)

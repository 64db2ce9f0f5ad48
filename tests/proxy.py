"""A TCP proxy a test can cut and restore: in front of the shared RabbitMQ, or of the Mongo-wire server.

Why a proxy rather than restarting RabbitMQ: the broker on this machine is shared with other test
runs (each on its own virtual host), and restarting it would fail their tests too. For the clients
under test, a proxy that drops every connection and refuses new ones IS a broker outage (the same
resets and refused connects they see when RabbitMQ restarts), and its messages are kept by the
broker as durable queues keep them across a restart. What it does not exercise is RabbitMQ's own
recovery of its disk state, which is RabbitMQ's to test, not ours. In front of the store, a cut is
the store restarting or failing over, at the exact moment the test chooses.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress

from deploy.local.processes import free_port


class TcpProxy:
    """Each socket is closed only by the thread that reads it (another thread only shuts it down):
    under eventlet, closing a socket another green thread waits on leaves a stale listener behind."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._closed = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener, self._closed = listener, threading.Event()
        threading.Thread(target=self._accept, args=(listener, self._closed), daemon=True).start()

    def _accept(self, listener: socket.socket, closed: threading.Event) -> None:
        try:
            while True:
                try:
                    client, _ = listener.accept()
                except OSError:
                    return  # cut: the listener was shut down
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                    upstream.settimeout(None)
                except OSError:
                    client.close()
                    continue
                with self._lock:
                    self._connections.update((client, upstream))
                threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
                threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        finally:
            listener.close()
            closed.set()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with suppress(OSError):
                target.shutdown(socket.SHUT_WR)  # the other side sees the end too
            with self._lock:
                self._connections.discard(source)
            source.close()

    def cut(self) -> None:
        """The server goes away: every connection is reset and new ones are refused."""
        if self._listener is not None:
            with suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._closed.wait(5)
            self._listener = None
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self.start()

    def stop(self) -> None:
        self.cut()

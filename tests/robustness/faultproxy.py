"""A loopback TCP proxy in front of the moto server that resets chosen connections.

Every client connection carries one HTTP request: the proxy adds ``Connection: close`` to the request
and to the answer, so no client reuses a connection and every request is seen. A rule resets (TCP RST,
no answer) the requests whose request line matches a pattern: the next ``times`` of them, or all.
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

HEAD_END = b"\r\n\r\n"


@dataclass
class Rule:
    pattern: re.Pattern[str]
    times: int | None  # None: every matching request
    after: int = 0  # let this many matching requests through first
    matched: int = 0


@dataclass
class Seen:
    at: float
    line: str
    reset: bool


@dataclass
class FaultProxy:
    target: str  # http://127.0.0.1:PORT of the real server
    seen: list[Seen] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        parsed = urlparse(self.target)
        self._upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self._server = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def fail(self, pattern: str, times: int | None = None, after: int = 0) -> None:
        """Reset the requests whose request line (``GET /bucket/key HTTP/1.1``) matches ``pattern``."""
        with self._lock:
            self.rules.append(Rule(re.compile(pattern), times, after))

    def heal(self) -> None:
        with self._lock:
            self.rules.clear()

    def lines(self, pattern: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if re.search(pattern, s.line)]

    def close(self) -> None:
        self._closed = True
        self._server.close()

    # --- plumbing --------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _decide(self, line: str) -> bool:
        with self._lock:
            reset = False
            for rule in self.rules:
                if rule.pattern.search(line):
                    rule.matched += 1
                    if rule.matched > rule.after and (rule.times is None or rule.matched <= rule.after + rule.times):
                        reset = True
            self.seen.append(Seen(time.monotonic(), line, reset))
            return reset

    def _serve(self, client: socket.socket) -> None:
        try:
            head, rest = _read_head(client)
            if head is None:
                client.close()
                return
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            if self._decide(line):
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()  # RST: the client sees "connection reset by peer"
                return
            upstream = socket.create_connection(self._upstream, timeout=60)
            upstream.sendall(_close_after(head) + rest)
            forward = threading.Thread(target=_pump, args=(client, upstream, False), daemon=True)
            forward.start()
            _pump(upstream, client, True)
            forward.join(timeout=60)
            upstream.close()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.close()


def _read_head(sock: socket.socket) -> tuple[bytes | None, bytes]:
    buffer = b""
    while HEAD_END not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    head, rest = buffer.split(HEAD_END, 1)
    return head + HEAD_END, rest


def _close_after(head: bytes) -> bytes:
    """The same head with ``Connection: close`` instead of any Connection header."""
    lines = [ln for ln in head[: -len(HEAD_END)].split(b"\r\n") if not ln.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + HEAD_END


def _pump(source: socket.socket, dest: socket.socket, answer: bool) -> None:
    """Copy ``source`` to ``dest`` until it closes; the answer's first final head says Connection: close."""
    pending = b""
    rewritten = not answer
    try:
        while True:
            chunk = source.recv(65536)
            if not chunk:
                break
            if rewritten:
                dest.sendall(chunk)
                continue
            pending += chunk
            while not rewritten and HEAD_END in pending:
                head, pending = pending.split(HEAD_END, 1)
                if head.startswith(b"HTTP/1.1 100"):
                    dest.sendall(head + HEAD_END)  # 100 Continue: the final answer follows
                    continue
                dest.sendall(_close_after(head + HEAD_END) + pending)
                pending, rewritten = b"", True
        if pending:
            dest.sendall(pending)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dest.shutdown(socket.SHUT_WR)

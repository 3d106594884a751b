"""How hitl talks to a process that analyses statements for it (hitl_cli.statements.forked, for a command;
hitl_cli.statements.analyst_process, for hitl serve), and that process's side of it.

Requests go one way and answers the other, on two pipes, each a frame: its length (4 bytes, big-endian), then its
body. A request's body is `[statement, system]` in JSON; an answer's is `+` and the analysis in JSON, or `-` and
why it failed. The analyst answers requests one at a time, in the order they came.
"""

import gc
import json
import os
import queue
import select
import signal
import struct
import time
from collections import deque
from typing import NoReturn

HEADER = struct.Struct(">I")
_READ_BYTES = 1 << 16
_ANSWERED, _FAILED = b"+", b"-"
READY = _ANSWERED  # the body an analyst sends once it can analyse, before any answer

Request = tuple[str | None, str | None]  # (action.statement, target.system)


def frame(body: bytes) -> bytes:
    return HEADER.pack(len(body)) + body


def request_frame(request: Request) -> bytes:
    return frame(json.dumps(request).encode())


def answer_of(body: bytes) -> bytes:
    """The analysis an answer's body carries; EngineError (one line) when the analyst failed, or said nothing."""
    from hitl_cli.errors import EngineError

    if not body:
        raise EngineError("statement analysis stopped: its process exited")
    if body[:1] != _ANSWERED:
        why = " ".join(body[1:].decode(errors="replace").split())  # sqlglot's messages run over several lines
        raise EngineError(f"statement analysis failed: {why}")
    return body[1:]


class Replies:
    """The frames an analyst sends, read from its pipe as they come (never more than the pipe holds, so that waiting
    for the next one waits on the pipe itself)."""

    def __init__(self, descriptor: int):
        self.descriptor = descriptor
        self._received = bytearray()
        self._bodies: deque[bytes] = deque()
        self._poller = select.poll()
        self._poller.register(descriptor, select.POLLIN)

    def next(self, seconds: float | None = None) -> bytes | None:
        """The next frame's body; b"" once the analyst is gone; None if it has not come within `seconds`."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self._bodies:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000
            if not self._poller.poll(wait):
                return None
            chunk = os.read(self.descriptor, _READ_BYTES)
            if not chunk:
                return b""
            self._received += chunk
            self._take_frames()
        return self._bodies.popleft()

    def _take_frames(self) -> None:
        while len(self._received) >= HEADER.size:
            end = HEADER.size + HEADER.unpack_from(self._received)[0]
            if len(self._received) < end:
                return
            self._bodies.append(bytes(self._received[HEADER.size : end]))
            del self._received[:end]


def write_frames(descriptor: int, outbox: "queue.SimpleQueue[bytes | None]") -> None:
    """A writer thread's work: each frame put in the outbox, until None is put there or the analyst is gone (its
    reader then sees the end of its answers, and says so); the descriptor is closed on the way out. Requests are
    written by a thread of their own so that an analyst waiting for its answers to be read can never wait on a
    caller waiting to write (a file's statements, or one statement, can be more than a pipe holds)."""
    try:
        while (next_frame := outbox.get()) is not None:
            remaining = memoryview(next_frame)
            while remaining:
                remaining = remaining[os.write(descriptor, remaining) :]
    except OSError:
        pass
    finally:
        os.close(descriptor)


def serve(requests_fd: int, replies_fd: int, parent: int) -> NoReturn:
    """The analyst: never returns. Ctrl-C reaches it with hitl's process group; hitl alone answers it. It is killed
    when hitl ends, however it ends: the end of the pipe would reach it only once it is done with the statement in
    hand (a long one takes minutes), and never if it is stopped. Its standard streams are /dev/null. It sends READY
    once its parser is loaded, so that the time a statement takes is counted from then on."""
    from hitl_cli.stop_signals import on_parent_death

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    on_parent_death(signal.SIGKILL)
    if os.getppid() != parent:  # hitl ended before that
        os._exit(1)
    quiet = os.open(os.devnull, os.O_RDWR)
    for standard in (0, 1, 2):
        os.dup2(quiet, standard)
    status = 1
    try:
        from hitl_cli.statements.analysis import analysis_json

        gc.freeze()  # what was loaded stays; parsed trees need collecting (a forked one inherits it held off)
        gc.enable()
        with os.fdopen(requests_fd, "rb") as requests, os.fdopen(replies_fd, "wb") as replies:
            replies.write(frame(READY))
            replies.flush()
            while len(header := requests.read(HEADER.size)) == HEADER.size:
                statement, system = json.loads(requests.read(HEADER.unpack(header)[0]))
                try:
                    reply = _ANSWERED + analysis_json(statement, system)
                except Exception as error:  # noqa: BLE001 - said to hitl, which fails the request closed
                    reply = _FAILED + f"{type(error).__name__}: {error}".encode(errors="replace")
                replies.write(frame(reply))
                replies.flush()
        status = 0
    finally:
        os._exit(status)

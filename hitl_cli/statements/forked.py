"""Statements analysed in a process of their own, forked as `hitl evaluate` starts (hitl_cli.program): sqlglot's
import (about 0.15 s of CPU) then runs on another core while this one imports the rest and starts OPA.

The child is a fork of the command made before any thread exists, its standard streams on /dev/null. It reads
requests (a statement and its system) from one pipe and answers each, in order, on another with what
hitl_cli.statements.analysis.analysis_json gives; it ends when the command's end of the pipe closes, and is killed
when the command ends, however it ends. Requests may be sent as soon as manifests are read (`prefetch`) and their
answers read when the decision needs them (`answer`). If the child fails, the run stops (EngineError, exit 5): a
statement is never taken as analysed without it. Without it (hitl used as a library, every other command, or no
process to spare for it) statements are analysed in the calling process.
"""

import gc
import json
import os
import queue
import signal
import struct
import threading
from collections import Counter, deque
from collections.abc import Iterable

_HEADER = struct.Struct(">I")
_ANSWERED, _FAILED = b"+", b"-"

Request = tuple[str | None, str | None]  # (action.statement, target.system)


class ForkedAnalyser:
    def __init__(self) -> None:
        pipes: list[int] = []
        try:
            pipes += os.pipe()
            pipes += os.pipe()
            command = os.getpid()
            self.pid = os.fork()
        except OSError:
            for descriptor in pipes:
                os.close(descriptor)
            raise
        requests_read, self._requests, self._replies, replies_write = pipes
        if self.pid == 0:
            os.close(self._requests)
            os.close(self._replies)
            _serve(requests_read, replies_write, command)
        os.close(requests_read)
        os.close(replies_write)
        self._reader = os.fdopen(self._replies, "rb")
        self._asked: deque[Request] = deque()  # sent, not yet read back, in order
        self._awaited: Counter[Request] = Counter()  # the same, counted
        self._answers: dict[Request, bytes] = {}  # read back, not yet taken
        self._lock = threading.Lock()
        # Requests are written by a thread of their own: the caller only ever waits reading answers, so that a
        # child waiting for its answers to be read can never wait on a caller waiting to write (prefetch sends a
        # whole file's statements, more than a pipe holds).
        self._outbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        threading.Thread(target=_write_requests, args=(self._requests, self._outbox), name="hitl-statement-requests",
                         daemon=True).start()

    def prefetch(self, requests: Iterable[Request]) -> None:
        with self._lock:
            for request in requests:
                self._ask(request)

    def answer(self, request: Request) -> bytes:
        with self._lock:
            self._ask(request)
            while request not in self._answers:
                answered = self._asked.popleft()
                self._awaited[answered] -= 1
                self._answers[answered] = self._read()
            return self._answers.pop(request)

    def _ask(self, request: Request) -> None:
        """Send the request, unless its answer is in hand or on its way."""
        if request not in self._answers and not self._awaited[request]:
            self._outbox.put(_frame(json.dumps(request).encode()))
            self._asked.append(request)
            self._awaited[request] += 1

    def _read(self) -> bytes:
        from hitl_cli.errors import EngineError

        header = self._reader.read(_HEADER.size)
        body = self._reader.read(_HEADER.unpack(header)[0]) if len(header) == _HEADER.size else b""
        if not body:
            raise EngineError("statement analysis stopped: its process exited")
        if body[:1] != _ANSWERED:
            raise EngineError(f"statement analysis failed: {body[1:].decode(errors='replace')}")
        return body[1:]


def _frame(body: bytes) -> bytes:
    return _HEADER.pack(len(body)) + body


def _write_requests(descriptor: int, outbox: "queue.SimpleQueue[bytes]") -> None:
    """Until the child is gone (the caller then reads the end of its answers, and says so)."""
    try:
        while True:
            frame = memoryview(outbox.get())
            while frame:
                frame = frame[os.write(descriptor, frame):]
    except OSError:
        return


def _serve(requests_fd: int, replies_fd: int, command: int) -> None:
    """The child: never returns. Ctrl-C reaches it with the command's process group; the command alone answers it.
    It is killed when the command ends, however it ends: the end of the pipe would reach it only once it is done
    with the statement in hand (a long one takes minutes), and never if it is stopped."""
    from hitl_cli.stop_signals import on_parent_death

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    on_parent_death(signal.SIGKILL)
    if os.getppid() != command:  # the command ended before that
        os._exit(1)
    quiet = os.open(os.devnull, os.O_RDWR)
    for standard in (0, 1, 2):
        os.dup2(quiet, standard)
    status = 1
    try:
        from hitl_cli.statements.analysis import analysis_json

        gc.freeze()  # the command held collection off while starting (hitl_cli.program); parsed trees need it
        gc.enable()
        with os.fdopen(requests_fd, "rb") as requests, os.fdopen(replies_fd, "wb") as replies:
            while len(header := requests.read(_HEADER.size)) == _HEADER.size:
                statement, system = json.loads(requests.read(_HEADER.unpack(header)[0]))
                try:
                    reply = _ANSWERED + analysis_json(statement, system)
                except Exception as error:  # noqa: BLE001 - said to the command, which stops the run
                    reply = _FAILED + f"{type(error).__name__}: {error}".encode(errors="replace")
                replies.write(_frame(reply))
                replies.flush()
        status = 0
    finally:
        os._exit(status)


_analyser: ForkedAnalyser | None = None


def start() -> None:
    """Fork the analyser; call it before any thread is started. Without descriptors or a process to spare for it
    (a pipe or the fork failed), there is none, and the command analyses statements itself, with the same facts."""
    global _analyser
    try:
        _analyser = ForkedAnalyser()
    except OSError:
        _analyser = None


def running() -> bool:
    return _analyser is not None


def prefetch(requests: Iterable[Request]) -> None:
    """Have the analyser start on these statements; nothing happens without one."""
    if _analyser is not None:
        _analyser.prefetch(requests)


def answer(request: Request) -> bytes | None:
    """The analysis of one statement in JSON, from the analyser; None when there is none."""
    return None if _analyser is None else _analyser.answer(request)

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

import os
import queue
import signal
import threading
from collections import Counter, deque
from collections.abc import Iterable

from hitl_cli.statements.framing import READY, Replies, Request, answer_of, request_frame, serve, write_frames


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
            serve(requests_read, replies_write, command)
        os.close(requests_read)
        os.close(replies_write)
        self._reader = Replies(self._replies)
        self.timeout: float | None = None  # seconds to wait for each answer (the command's --statement-timeout)
        self._ready = self._killed = False
        self._asked: deque[Request] = deque()  # sent, not yet read back, in order
        self._awaited: Counter[Request] = Counter()  # the same, counted
        self._answers: dict[Request, bytes] = {}  # read back, not yet taken
        self._lock = threading.Lock()
        # prefetch sends a whole file's statements, more than a pipe holds: the caller only ever waits reading
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        threading.Thread(target=write_frames, args=(self._requests, self._outbox), name="hitl-statement-requests",
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
            self._outbox.put(request_frame(request))
            self._asked.append(request)
            self._awaited[request] += 1

    def _read(self) -> bytes:
        """The next answer. Waiting for it longer than the timeout stops the run (the child is killed with it): the
        child answers in order, once its parser is loaded, so it has spent at least that long on this statement."""
        if not self._ready:  # b"" (it is gone) leaves it unready, which the read below then says
            self._ready = self._reader.next() == READY
        body = b"" if self._killed or not self._ready else self._reader.next(self.timeout)
        if body is None:  # an answer it sends late would be read for another statement: it goes, and says nothing more
            os.kill(self.pid, signal.SIGKILL)
            self._killed = True
            from hitl_cli.errors import EngineError

            raise EngineError(f"statement analysis took longer than {self.timeout:g}s")
        return answer_of(body)


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


def limit(seconds: float) -> None:
    """How long the analyser may take over one statement before the run stops (exit 5); nothing without one."""
    if _analyser is not None:
        _analyser.timeout = seconds


def answer(request: Request) -> bytes | None:
    """The analysis of one statement in JSON, from the analyser; None when there is none."""
    return None if _analyser is None else _analyser.answer(request)

"""Statements analysed in a process of their own for a server that lives long (`hitl serve`), so that no parse ever
holds the server's interpreter lock: sqlglot's compiled tokenizer and parser hold it about a second per MB of
statement, during which the server would answer nothing, not even /health.

The analyst is a fresh interpreter (hitl_cli.statements.analyst_main, with the server's sys.path), not a fork of the
server, which has threads (uvicorn's, OPA clients') whose locks a fork would copy held. It speaks
hitl_cli.statements.framing over two pipes and answers with hitl_cli.statements.analysis.analysis_json, as every
other analyst does, so the facts are the same. The server keeps what is remembered (hitl_cli.statements.remembered): a statement seen lately
costs no round trip. A thread reads the answers and settles each caller's Future, which a caller on the event loop
awaits (asyncio.wrap_future) and a worker thread waits on.

Each statement has `timeout` seconds of the analyst's time (from when the analyst is ready and done with the
statements sent before it). When they pass, the analyst is killed, that statement's request fails closed
(EngineError, one line: exit 5, 503 from hitl serve) and the statements sent after it go to a new analyst, each
with its own time. If the analyst dies otherwise (killed, crashed), the statement it was analysing fails the same
way and the others go to a new one; if it dies before it is ready, or cannot be started, every statement sent to it
fails. Nothing is ever taken as analysed without the analyst's answer.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass

from hitl_cli.errors import EngineError
from hitl_cli.statements import framing, remembered

# The analyst imports what the server imported (the same hitl_cli, the same sqlglot, so the same facts): it looks
# for modules where the server does (its sys.path), never in the folder it is started from (-P, even for json).
_PROGRAM = ("import json, runpy, sys; sys.path[:] = json.loads(sys.argv.pop(1)); "
            "runpy.run_module('hitl_cli.statements.analyst_main', run_name='__main__')")


@dataclass(frozen=True)
class _Asked:
    answer: Future
    frame: bytes
    remember_as: remembered.Key | None  # where the answer is remembered, if it is


class _Analyst:
    """One analyst process, what was sent to it and not yet answered (in order), and since when the first of those
    is its to analyse."""

    def __init__(self) -> None:
        requests_read, requests_write = os.pipe()
        replies_read, replies_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-c", _PROGRAM, json.dumps(sys.path), str(requests_read), str(replies_write),
                 str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(requests_read, replies_write),
            )
        except BaseException:
            os.close(requests_write)
            os.close(replies_read)
            raise
        finally:
            os.close(requests_read)
            os.close(replies_write)
        self.replies = replies_read
        self.asked: deque[_Asked] = deque()
        self.ready = False
        self.since = 0.0  # when the first of `asked` became the analyst's to analyse (once ready)
        self.outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        threading.Thread(target=framing.write_frames, args=(requests_write, self.outbox),
                         name="hitl-analyst-requests", daemon=True).start()

    def send(self, asked: _Asked) -> None:
        if not self.asked:
            self.since = time.monotonic()
        self.asked.append(asked)
        self.outbox.put(asked.frame)

    def stop(self) -> None:
        """Kill it and wait for its end; its writer thread ends and closes its pipe."""
        self.outbox.put(None)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()


class _Spawner:
    """Analysts are started from one thread that lives as long as the server: an analyst is killed when the thread
    that started it ends (stop_signals.on_parent_death: Linux's parent-death signal follows a thread, not the
    process), and the threads that ask for statements (a worker pool's, the reader of an analyst that died) come
    and go."""

    def __init__(self) -> None:
        self._asked: queue.SimpleQueue[Future | None] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="hitl-analyst-starter", daemon=True).start()

    def spawn(self) -> _Analyst:
        started: Future = Future()
        self._asked.put(started)
        return started.result()

    def close(self) -> None:
        self._asked.put(None)

    def _run(self) -> None:
        while (started := self._asked.get()) is not None:
            try:
                started.set_result(_Analyst())
            except BaseException as error:  # noqa: BLE001 - raised where the analyst was asked for
                started.set_exception(error)


class AnalystProcess:
    """The analyst process of a server, started again whenever it was killed or died."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._lock = threading.Lock()
        self._analyst: _Analyst | None = None
        self._closed = False
        self._spawner = _Spawner()

    def start(self) -> None:
        """Start the analyst now rather than for the first statement (its parser takes a moment to load). One that
        cannot be started now is tried again for the first statement, which fails if it cannot be started then."""
        with self._lock:
            try:
                self._current()
            except (OSError, subprocess.SubprocessError):
                pass

    def analysis_future(self, statement: str | None, system: str | None) -> Future:
        def ask(text: str | None, dialect: str, remember: bool) -> Future:  # the analyst is told the system
            return self._ask(framing.request_frame((statement, system)), (text, dialect) if remember else None)

        return remembered.analysis_future(statement, system, ask)

    def close(self) -> None:
        """Kill the analyst; whatever waits on it fails."""
        with self._lock:
            self._closed, analyst, self._analyst = True, self._analyst, None
        self._spawner.close()
        if analyst is not None:
            analyst.stop()

    def _ask(self, request_frame: bytes, remember_as: remembered.Key | None) -> Future:
        asked = _Asked(Future(), request_frame, remember_as)
        with self._lock:
            try:
                self._current().send(asked)
            except (OSError, subprocess.SubprocessError) as error:
                _fail(asked, EngineError(f"statement analysis could not start its process: {error}"))
        return asked.answer

    def _current(self) -> _Analyst:
        """The analyst (started if there is none); with the lock held."""
        if self._closed:
            raise OSError("hitl is stopping")
        if self._analyst is None:
            self._analyst = self._spawner.spawn()
            threading.Thread(target=self._read_answers, args=(self._analyst,), name="hitl-analyst-answers",
                             daemon=True).start()
        return self._analyst

    def _read_answers(self, analyst: _Analyst) -> None:
        """Until the analyst ends: each answer settles the first Future waiting; a statement that takes longer than
        the timeout has the analyst killed."""
        replies = framing.Replies(analyst.replies)
        try:
            while True:
                body = replies.next(self._seconds_left(analyst))
                if body == b"":
                    return self._ended(analyst, "statement analysis stopped: its process exited")
                if body is not None:
                    self._answered(analyst, body)
                elif self._seconds_left(analyst) <= 0:
                    return self._ended(analyst, f"statement analysis took longer than {self.timeout:g}s")
        finally:
            os.close(analyst.replies)

    def _seconds_left(self, analyst: _Analyst) -> float:
        """Until the statement in hand is overdue; while there is none, the timeout (a statement sent meanwhile has at
        least that long)."""
        with self._lock:
            if not (analyst.ready and analyst.asked):
                return self.timeout
            return max(0.0, analyst.since + self.timeout - time.monotonic())

    def _answered(self, analyst: _Analyst, body: bytes) -> None:
        with self._lock:
            if not analyst.ready:
                analyst.ready, analyst.since = True, time.monotonic()
                return
            asked = analyst.asked.popleft()
            analyst.since = time.monotonic()
        try:
            analysed = framing.answer_of(body)
        except EngineError as error:
            _fail(asked, error)
            return
        if asked.remember_as is not None:
            remembered.remembered.put(asked.remember_as, analysed)
        if asked.answer.set_running_or_notify_cancel():  # a caller that gave up (a cancelled task) is owed nothing
            asked.answer.set_result(analysed)

    def _ended(self, analyst: _Analyst, why: str) -> None:
        """The analyst is killed if it is not gone already. What it was analysing fails; what was sent after it goes
        to a new analyst (all of it fails if this one never got ready, which a new one would not either)."""
        analyst.stop()
        with self._lock:
            if self._analyst is analyst:
                self._analyst = None
            waiting = list(analyst.asked)
            failed, resent = (waiting[:1], waiting[1:]) if analyst.ready else (waiting, [])
            for asked in resent:
                try:
                    self._current().send(asked)
                except (OSError, subprocess.SubprocessError) as error:
                    _fail(asked, EngineError(f"statement analysis could not start its process: {error}"))
        for asked in failed:
            _fail(asked, EngineError(why))


def _fail(asked: _Asked, error: EngineError) -> None:
    if asked.answer.set_running_or_notify_cancel():
        asked.answer.set_exception(error)


_process: AnalystProcess | None = None


def start(timeout: float) -> None:
    """Analyse statements in an analyst process from now on, in this process (hitl serve), until `stop`."""
    global _process
    _process = AnalystProcess(timeout)
    _process.start()


def stop() -> None:
    global _process
    if _process is not None:
        _process.close()
        _process = None


def running() -> bool:
    return _process is not None


def analysis_future(statement: str | None, system: str | None) -> Future:
    """analysis_json's answer as a Future, from the analyst process; `start` first."""
    assert _process is not None, "no analyst process: start() first"
    return _process.analysis_future(statement, system)

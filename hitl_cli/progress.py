"""A progress line on stderr for long runs: only on a terminal, only once a run has taken a while.

Output that is not a terminal (CI logs, files, pipes) never sees it, so reports stay byte-for-byte the same.
"""

import sys
import threading
import time
from typing import TextIO

BAR_WIDTH = 24
SHOW_AFTER_SECONDS = 1.0
REDRAW_EVERY_SECONDS = 0.1


class Progress:
    """Files read of the total, and manifests decided; drawn over itself with carriage returns."""

    def __init__(self, total_files: int, stream: TextIO | None = None, clock=time.monotonic):
        self.stream = stream if stream is not None else sys.stderr
        self.total_files = total_files
        self.files_read = 0
        self.decided = 0
        self._clock = clock
        self._started = clock()
        self._drawn_at: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def on_terminal(cls, total_files: int) -> "Progress | None":
        return cls(total_files) if sys.stderr.isatty() else None

    def file_read(self) -> None:
        self.files_read += 1
        self._maybe_draw()

    def manifests_decided(self, count: int) -> None:
        self.decided = count
        self._maybe_draw()

    def line(self) -> str:
        done = self.files_read / self.total_files if self.total_files else 1.0
        filled = round(done * BAR_WIDTH)
        return (
            f"hitl: [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.files_read}/{self.total_files} files read, "
            f"{self.decided} manifests decided"
        )

    def _maybe_draw(self) -> None:
        now = self._clock()
        if now - self._started < SHOW_AFTER_SECONDS:
            return
        if self._drawn_at is not None and now - self._drawn_at < REDRAW_EVERY_SECONDS:
            return
        with self._lock:
            self._drawn_at = now
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def close(self) -> None:
        """Erase the line, so what follows on stderr starts clean."""
        with self._lock:
            if self._drawn_at is not None:
                self.stream.write("\r\x1b[K")
                self.stream.flush()

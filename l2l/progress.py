"""Progress of a long run: a live bar on a terminal, one line per finished item elsewhere.

`Progress(total, title, unit)` follows a run of `total` items (benchmark cells, evaluation
episodes). On a terminal it redraws one line in place, every second, with the items done of
the total, the item under way, the time elapsed and an estimate of the time left:

    two_digit [########............] 7/18 cells · weights, strict 5-shot · 5:12 · ETA 8:04

When the stream is not a terminal (a log file, CI, `nohup`), it stays quiet except for one
line per finished item, so logs are short and every line is final:

>>> import io
>>> stream = io.StringIO()
>>> progress = Progress(2, "demo", unit="cells", stream=stream, clock=iter(range(100)).__next__)
>>> progress.start("first")
>>> progress.start("second")         # the first item is finished
>>> progress.close()                 # so is the second
>>> print(stream.getvalue().strip())
demo: 1/2 cells done (first, 0:01) · 0:02 elapsed · ETA 0:02
demo: 2/2 cells done (second, 0:01) · 0:03 elapsed

`total=None` is a run of unknown length (no bar, no ETA). `l2l.evaluation.evaluate(...,
progress=True)` and `python -m benchmarks run` use this class; it is the only progress display
in l2l apart from Keras's own `fit` bar.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 20


def format_seconds(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on.

    >>> format_seconds(75.4), format_seconds(3725)
    ('1:15', '1:02:05')
    """
    seconds = int(round(max(seconds, 0.0)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """The progress of `total` items (see the module docstring).

    Args:
        total: number of items, or None when unknown.
        title: what runs, shown first on every line.
        unit: the items' name in the plural ("cells", "episodes").
        stream: where to write; `sys.stderr` by default.
        interactive: draw a live bar; by default, when `stream` is a terminal.
        clock: seconds as a float (`time.perf_counter` by default; tests pass their own).
        refresh: seconds between redraws of the live bar.

    Items are reported either one by one with `start(label)` (the previous item finishes when
    the next starts, the last one at `close()`), or in bulk with `advance(n)`.
    """

    def __init__(self, total: int | None, title: str = "", unit: str = "items",
                 stream: TextIO | None = None, interactive: bool | None = None,
                 clock: Callable[[], float] = time.perf_counter, refresh: float = 1.0):
        self.total, self.title, self.unit = total, title, unit
        self.stream = stream if stream is not None else sys.stderr
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.clock = clock
        self.done = 0
        self.current: str | None = None
        self._began = clock()
        self._item_began = self._began
        self._last_finish = self._began
        self._closed = False
        self._lock = threading.Lock()
        self._ticker = None
        if self.interactive:
            self._stop = threading.Event()
            self._ticker = threading.Thread(target=self._tick, args=(refresh,), daemon=True)
            self._ticker.start()

    # ---- reporting ------------------------------------------------------------------------

    def start(self, label: str) -> None:
        """Item `label` starts; the item under way before it, if any, has finished."""
        now = self.clock()
        with self._lock:
            if self.current is not None:
                self._finish(1, now)
            self.current, self._item_began = label, now
            self._draw(now)

    def advance(self, n: int = 1, label: str | None = None) -> None:
        """`n` more items have finished (`label` names them in the log line)."""
        now = self.clock()
        with self._lock:
            if label is not None:
                self.current = label
            self._finish(n, now)
            self._draw(now)

    def close(self) -> None:
        """The run is over: the item under way finishes, and a live bar ends its line."""
        now = self.clock()
        with self._lock:
            if self._closed:
                return
            if self.current is not None:
                self._finish(1, now)
            self._closed = True
            if self.interactive:
                self._stop.set()
                self.stream.write("\r" + self.line(now) + "\033[K\n")
                self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- text ------------------------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return self.clock() - self._began

    def eta(self, now: float) -> float | None:
        """Seconds left: the mean time per finished item times the items left, less the time
        already spent on the item under way; None before the first item finishes."""
        if not self.total or not self.done or self.done >= self.total:
            return None
        per_item = (self._last_finish - self._began) / self.done
        return max(per_item * (self.total - self.done) - (now - self._last_finish), 0.0)

    def line(self, now: float) -> str:
        """The live bar's text at time `now`."""
        parts = []
        if self.total:
            filled = int(BAR_WIDTH * min(self.done / self.total, 1.0))
            parts.append(f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                         f"{self.done}/{self.total} {self.unit}")
        else:
            parts.append(f"{self.done} {self.unit}")
        if self.current is not None and not self._closed:
            parts.append(self.current)
        parts.append(format_seconds(now - self._began))
        eta = self.eta(now)
        if eta is not None:
            parts.append(f"ETA {format_seconds(eta)}")
        return (f"{self.title} " if self.title else "") + " · ".join(parts)

    def _finish(self, n: int, now: float) -> None:
        self.done += n
        if not self.interactive:
            of = f"/{self.total}" if self.total else ""
            what = f" ({self.current}, {format_seconds(now - self._item_began)})" \
                if self.current is not None else ""
            text = f"{self.done}{of} {self.unit} done{what} · {format_seconds(now - self._began)}"
            text += " elapsed"
            self._last_finish = now  # before the ETA, which counts from the last finish
            eta = self.eta(now)
            if eta is not None:
                text += f" · ETA {format_seconds(eta)}"
            self.stream.write((f"{self.title}: " if self.title else "") + text + "\n")
            self.stream.flush()
        self._last_finish, self.current = now, None

    def _draw(self, now: float) -> None:
        if self.interactive and not self._closed:
            self.stream.write("\r" + self.line(now) + "\033[K")
            self.stream.flush()

    def _tick(self, refresh: float) -> None:
        while not self._stop.wait(refresh):
            with self._lock:
                self._draw(self.clock())

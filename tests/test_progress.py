"""Progress displays: a live bar on a terminal, one line per finished item elsewhere."""

from __future__ import annotations

import io

import numpy as np

from benchmarks.common import cell_progress, progress
from l2l.progress import Progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_log_lines_say_what_finished_how_long_it_took_and_the_time_left():
    stream, clock = io.StringIO(), Clock()
    run = Progress(4, "grid", unit="cells", stream=stream, clock=clock)
    for label, seconds in (("a", 10), ("b", 30), ("c", 20)):
        run.start(label)
        clock.now += seconds
    assert stream.getvalue().splitlines() == [
        "grid: 1/4 cells done (a, 0:10) · 0:10 elapsed · ETA 0:30",
        "grid: 2/4 cells done (b, 0:30) · 0:40 elapsed · ETA 0:40",
    ]
    run.close()
    assert stream.getvalue().splitlines()[-1] == (
        "grid: 3/4 cells done (c, 0:20) · 1:00 elapsed · ETA 0:20")


def test_terminal_bar_redraws_one_line_with_current_item_and_eta():
    stream, clock = io.StringIO(), Clock()
    run = Progress(4, "grid", unit="cells", stream=stream, clock=clock, interactive=True,
                   refresh=60)
    run.start("features, strict 1-shot")
    clock.now = 50
    run.start("weights, strict 1-shot")
    clock.now = 60
    assert run.line(clock.now) == ("grid [#####...............] 1/4 cells · weights, strict "
                                   "1-shot · 1:00 · ETA 2:20")
    run.close()
    text = stream.getvalue()
    assert "\n" not in text[:-1] and text.endswith("\n")  # one line, redrawn in place
    assert text.count("\r") == 3


def test_benchmark_cells_report_through_the_runners_display():
    stream = io.StringIO()
    progress.plan(3)  # nothing shows progress outside the runner: a no-op
    with cell_progress("demo", stream=stream):
        progress.plan(2)
        progress.cell("first")
        progress.cell("second")
    lines = stream.getvalue().splitlines()
    assert [line.split(" · ")[0] for line in lines] == [
        "demo: 1/2 cells done (first, 0:00)", "demo: 2/2 cells done (second, 0:00)"]


def test_evaluate_shows_progress_when_asked(capsys):
    from l2l.evaluation import evaluate

    class Constant:
        def predict(self, inputs, batch_size=None, verbose=0, callbacks=()):
            n = len(inputs["query_x"])
            for callback in callbacks:
                for batch in range(-(-n // batch_size)):
                    callback.on_predict_batch_end(batch)
            return np.zeros(inputs["query_x"].shape[:2], "float32")

    from l2l.tasks import SinusoidTask

    episodes = SinusoidTask().fixed_episodes(25, seed=0)
    quiet = evaluate(Constant(), episodes, metric="mse", batch_size=10)
    assert capsys.readouterr().err == ""
    shown = evaluate(Constant(), episodes, metric="mse", batch_size=10, progress=True)
    assert shown == quiet
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" · ")[0] for line in lines] == [
        "evaluate: 10/25 episodes done", "evaluate: 20/25 episodes done",
        "evaluate: 25/25 episodes done"]

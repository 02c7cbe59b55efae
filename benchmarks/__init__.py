"""The l2l benchmark suite: every method scored on the same stored episodes, results as JSON.

    python -m benchmarks list
    python -m benchmarks run two_digit throughput            # full: benchmarks/results/, images/
    python -m benchmarks run throughput --quick              # seconds: runs/benchmarks-quick/
    python -m benchmarks run two_digit -o protocols=strict -o shots=1   # options: see `list`
    python -m benchmarks run two_digit --tag flagship -o minutes_per_cell=14  # a 2nd full run
    python -m benchmarks run two_digit --tensorboard runs/tb  # tensorboard --logdir runs/tb
    python -m benchmarks plot two_digit                      # redraw pictures from the JSON
    python -m benchmarks readme                              # docs/results.md

Adding a benchmark is adding one module `benchmarks/<name>.py`:

    '''One line saying what is measured (shown by `list` and on the results page).

    What the rows are, the default grid and why it fits ~15 minutes on 2 CPU cores.
    '''
    from benchmarks.common import PeakRSS, row, stored_episodes, train_and_evaluate

    def run(quick: bool = False, seed: int = 0, *, shots=(1, 5), minutes=None) -> dict:
        minutes = minutes if minutes is not None else (0.05 if quick else 2.0)
        rows = []
        for k in shots:
            test = stored_episodes(task(k, "test"), f"mytask-{k}shot", 1000, "test")
            with PeakRSS() as memory:
                out = train_and_evaluate(model(), task(k, "train").dataset(32, seed), test,
                                         minutes=minutes, steps_per_epoch=50)
            rows.append(row("my-method", "accuracy", out["mean"], ci95=out["ci95"],
                            episodes=out["episodes"], train_seconds=out["train_seconds"],
                            settings={"shots": k}, seed=seed, memory=memory))
        return {"rows": rows, "settings": {"minutes": minutes}, "notes": []}

    def plot(result: dict):             # optional: a matplotlib Figure of result["rows"]
        ...

    def summarize(result: dict) -> str: # optional: Markdown for docs/results.md (default: rows)
        ...

A benchmark that loops over cells (settings each trained and scored) says so with
`benchmarks.common.progress`: `progress.plan(total)` once, `progress.cell(label)` as each
starts; `run` then shows a bar with the cells done, the current one, elapsed time and ETA (one
line per finished cell when the output is not a terminal), and `--tensorboard` names each
cell's log folder after its label.

The contract: a docstring; `run(quick, seed, **options)` returning `{"rows": [...],
"settings": {...}, "notes": [...]}` with rows made by `benchmarks.common.row`; keyword options
with defaults, which the command line sets with `-o name=value`; quick mode runs in seconds
and the default (full) mode in about 15 minutes on 2 CPU cores, saying in `settings`/`notes`
what a bigger run would add. Evaluation episodes come from `stored_episodes`, so every method
is scored on the same episodes. The framework adds provenance fields, validates the record
against `benchmarks.schema`, and writes the JSON and the picture.
"""

"""Scaling: two-digit `features` training, episodes/s on 1 device, 2 devices and 2 workers.

Each configuration trains `two_digit_model(kind)` with `fit` on the task's `dataset()` (as the
bundled example does) in a fresh process, on the same global batch:

- `one device`: the default strategy;
- `mirrored`: `MirroredStrategy` over every GPU, or, on a machine without one, over 2
  logical devices of the CPU (`l2l.training.distribute.logical_cpu_devices(2)`);
- `2 workers`: `MultiWorkerMirroredStrategy`, two processes on localhost (`TF_CONFIG` from
  `l2l.training.distribute.localhost_cluster(2)`), measured on the chief.

Every step after `warmup_steps` (graph tracing excluded) is timed; rows give episodes/s with
its 95% CI over steps, `speedup` (episodes/s over one device's) and `efficiency` (speedup per
replica). Two logical devices or two workers on the same CPU cores share those cores, so on a
CPU speedup cannot exceed 1: the rows measure what the strategy costs. On a GPU machine the
`mirrored` row compares one GPU with all of them. Full mode takes a few minutes on 2 cores;
quick mode seconds of training plus process start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import device, rate_with_ci, row

CONFIGURATIONS = ("one", "mirrored", "workers")
LABELS = {"one": "one device", "mirrored": "mirrored", "workers": "2 workers"}


def run(quick: bool = False, seed: int = 0, *, kind: str = "features",
        batch_size: int | None = None, steps: int | None = None, warmup_steps: int = 3,
        configurations: tuple[str, ...] = CONFIGURATIONS, data_dir: str | None = None) -> dict:
    """Measure training episodes/s under each configuration, each in fresh processes."""
    batch_size = batch_size or (8 if quick else 32)
    steps = steps or (3 if quick else 30)
    unknown = sorted(set(configurations) - set(CONFIGURATIONS))
    if unknown or steps < 2 or warmup_steps < 1 or batch_size % 2:
        raise ValueError(f"configurations must be among {CONFIGURATIONS} (got {unknown}), "
                         "steps >= 2, warmup_steps >= 1, batch_size even (it splits over 2).")
    settings = {"kind": kind, "batch_size": batch_size, "steps": steps,
                "warmup_steps": warmup_steps}
    measured = {name: _measure(name, settings, seed, data_dir) for name in configurations}
    base = measured.get("one")
    rows = []
    for name, m in measured.items():
        rate, ci, step, step_ci = rate_with_ci(batch_size, m["step_seconds"])
        speedup = None if base is None else rate / rate_with_ci(batch_size,
                                                                base["step_seconds"])[0]
        rows.append(row(
            LABELS[name], "episodes_per_second", rate, ci95=ci,
            episodes=batch_size * len(m["step_seconds"]),
            train_seconds=sum(m["step_seconds"]), settings={**settings, "configuration": name},
            seed=seed, step_seconds=round(step, 5), step_seconds_ci95=round(step_ci, 5),
            replicas=m["replicas"], strategy=m["strategy"], devices=m["devices"],
            speedup=None if speedup is None else round(speedup, 3),
            efficiency=None if speedup is None else round(speedup / m["replicas"], 3),
            peak_rss_mb_process=m["peak_rss_mb"]))
    return {
        "rows": rows,
        "settings": {**settings, "configurations": configurations, "device": device()},
        "notes": [f"Measured on {device()} with {os.cpu_count()} cores. Logical devices and "
                  "localhost workers share those cores, so on a CPU a speedup above 1 is "
                  "impossible: the rows show the overhead of each strategy. Each worker also "
                  "generates every global batch (auto-shard policy DATA)."],
    }


def _measure(name: str, settings: dict, seed: int, data_dir: str | None) -> dict:
    """Run `configuration` in fresh process(es); returns the chief's measurement."""
    from l2l.training.distribute import localhost_cluster

    with tempfile.TemporaryDirectory(prefix="l2l-scaling-") as folder:
        out = Path(folder) / "chief.json"
        args = [sys.executable, "-m", "benchmarks.scaling", name, str(out),
                json.dumps({**settings, "seed": seed, "data_dir": data_dir})]
        configs = localhost_cluster(2) if name == "workers" else [None]
        procs = [subprocess.Popen(args, env=_environment(config), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for config in configs]
        try:
            for proc in procs:
                output, _ = proc.communicate(timeout=1800)
                if proc.returncode:
                    raise RuntimeError(f"scaling child {name} failed:\n{output[-3000:]}")
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
        return json.loads(out.read_text())


def _environment(tf_config: str | None) -> dict:
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p))
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = tf_config
    return env


def _child(name: str, out: str, settings: dict) -> None:
    """One measurement, in its own process (devices are fixed when TensorFlow starts)."""
    from l2l.training.distribute import logical_cpu_devices, make_strategy

    if name == "mirrored":
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            logical_cpu_devices(2)
    strategy = make_strategy({"one": "one", "mirrored": "mirrored", "workers": "auto"}[name])

    import keras

    from benchmarks.common import device
    from benchmarks.throughput import _StepTimer
    from l2l.datasets import load_mnist
    from l2l.presets import two_digit_model
    from l2l.tasks import TwoDigitTask
    from l2l.training import peak_rss_mb
    from l2l.training.distribute import enable_multi_worker_fit, is_chief, output_dir

    keras.utils.set_random_seed(settings["seed"])
    images, labels = load_mnist(settings["data_dir"])
    task = TwoDigitTask(images, labels, split="train")
    with strategy.scope():
        model = two_digit_model(settings["kind"])
    enable_multi_worker_fit(model)
    data = task.dataset(settings["batch_size"], seed=settings["seed"])
    model.fit(data, steps_per_epoch=settings["warmup_steps"], epochs=1, verbose=0)
    timer = _StepTimer()
    model.fit(data, steps_per_epoch=settings["steps"], epochs=1, verbose=0,
              callbacks=[timer.callback()])
    record = {"step_seconds": timer.steps, "replicas": strategy.num_replicas_in_sync,
              "strategy": type(strategy).__name__,
              "devices": device(),
              "peak_rss_mb": round(peak_rss_mb(), 1), "chief": is_chief(),
              "finished": time.time()}
    with output_dir(Path(out).parent) as folder:  # only the chief's record is kept
        Path(folder, Path(out).name).write_text(json.dumps(record))


def plot(result: dict):
    """Episodes/s per configuration, with the speedup over one device inside each bar."""
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    names = [f"{r['method']}\n({r['replicas']} replica{'s' * (r['replicas'] > 1)})"
             for r in rows]
    bars = ax.bar(names, [r["mean"] for r in rows], yerr=[r["ci95"] or 0 for r in rows],
                  capsize=4, color=["#4c72b0", "#dd8452", "#55a868"][:len(rows)])
    for bar, r in zip(bars, rows, strict=True):
        if r.get("speedup") is not None:
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() / 2,
                    f"{r['speedup']:.2f}x\none device", ha="center", va="center",
                    fontsize=8, color="white")
    ax.set_ylabel("training episodes per second")
    load = result["load_average"]
    ax.set_title(f"two-digit {result['settings']['kind']} training, global batch "
                 f"{result['settings']['batch_size']}\n{result['machine']['device']}, "
                 f"{result['machine']['cores']} cores, load {load['start'][0]:.0f}-"
                 f"{load['end'][0]:.0f} ({result['mode']} run)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))

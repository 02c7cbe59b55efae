"""The bundled example: learn "is this the same two-digit number?" from one image.

A learner reads the support image(s) of a number it has never seen in training; the predictor
then says, for each query image, whether it shows the same number. After training, every new
number is learned in one forward pass.

    python examples/mnist_two_digit.py                      # strict protocol, 1-shot, features
    python examples/mnist_two_digit.py --learner weights --shots 5
    python examples/mnist_two_digit.py --quick              # about a minute, for a smoke test
    python examples/mnist_two_digit.py --resume             # continue an interrupted run
    python examples/mnist_two_digit.py --debug              # tracebacks for l2l errors too
    TF_CONFIG=... python examples/mnist_two_digit.py        # one worker of a cluster
    python examples/mnist_two_digit.py --tensorboard runs/tb  # then: tensorboard --logdir runs/tb

It prints the held-out accuracy with its 95% confidence interval, and writes to --output-dir
the trained model (`model.keras`), `results.json`, and the figures `episodes.png` and
`learning_curve.png`. MNIST is read from --data-dir, else $L2L_DATA_DIR, else the Keras cache,
else downloaded.

It trains under `--strategy` (see docs/scaling.md): `auto` picks multi-worker training when
`TF_CONFIG` names a cluster (start the same command on every worker), all GPUs when there are
several, else one device. --batch-size is the global batch, split evenly over the replicas;
under a multi-worker strategy only the chief writes the model, results, figures and
checkpoints (the other workers write to a temporary folder they delete).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import time

import keras

from l2l import cli
from l2l.callbacks import StopOnNonFiniteLoss
from l2l.datasets import load_mnist
from l2l.evaluation import evaluate
from l2l.presets import TWO_DIGIT_KINDS, two_digit_model
from l2l.tasks import PROTOCOLS, SPLIT_SEED, TwoDigitTask
from l2l.tensorboard import tensorboard_callbacks
from l2l.training import (
    BackupAndRestore,
    TimeBudget,
    generation_rate,
    peak_rss_mb,
    save_model,
    write_json,
)
from l2l.training.distribute import (
    STRATEGIES,
    enable_multi_worker_fit,
    is_chief,
    make_strategy,
    output_dir,
    replica_batch_size,
)
from l2l.viz import plot_episodes, plot_learning_curve, save


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data-dir", default=None, help="folder with MNIST (IDX files or mnist.npz)")
    p.add_argument("--protocol", default="strict", choices=PROTOCOLS)
    p.add_argument("--shots", type=int, default=1, help="support images per episode")
    p.add_argument("--learner", default="features", choices=TWO_DIGIT_KINDS)
    p.add_argument("--epochs", type=int, default=None, help="30 (--quick: 4)")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="100 (--quick: 50)")
    p.add_argument("--batch-size", type=int, default=32,
                   help="episodes per training step (global: split over the replicas)")
    p.add_argument("--strategy", default="auto", choices=STRATEGIES,
                   help="auto: multi-worker if TF_CONFIG names a cluster, else all GPUs if "
                        "several, else one device; one: one device; mirrored: all local GPUs")
    p.add_argument("--queries", type=int, default=8, help="query images per training episode")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--augment", default="2,10", metavar="SHIFT,DEGREES",
                   help="jitter each training digit by up to SHIFT pixels and DEGREES degrees "
                        "(never a flip); 'none' for no jitter (benchmarks/two_digit.py AUGMENT: "
                        "+11 points on heldout-digits)")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="AdamW's decoupled weight decay (0: plain Adam)")
    p.add_argument("--minutes", type=float, default=None,
                   help="stop training after this long, annealing the learning rate over it")
    p.add_argument("--test-episodes", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output-dir", default="runs/mnist_two_digit")
    p.add_argument("--figures-dir", default=None,
                   help="also write the figures here as two_digit_*.png (README: images/)")
    p.add_argument("--checkpoint-dir", default=None,
                   help="checkpoint after every epoch here (default: OUTPUT_DIR/checkpoint)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --checkpoint-dir, if there is one")
    p.add_argument("--quick", action="store_true",
                   help="short run (4 epochs of 50 steps, about a minute) that already learns; "
                        "--epochs and --steps-per-epoch shorten it further")
    p.add_argument("--validation-episodes", type=int, default=500)
    p.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="log loss, accuracy and a few validation episodes with the model's "
                        "answers to TensorBoard in DIR (open: tensorboard --logdir DIR)")
    p.add_argument("--verbose", type=int, default=1, help="Keras fit verbosity (1: progress bar)")
    cli.add_debug_flag(p)
    args = p.parse_args(argv)
    args.augment = _pair(args.augment)
    quick = args.quick
    args.epochs = args.epochs or (4 if quick else 30)
    args.steps_per_epoch = args.steps_per_epoch or (50 if quick else 100)
    return args


def run(args: argparse.Namespace) -> dict:
    """Train, evaluate on held-out numbers, save the model and figures; returns the results."""
    strategy = make_strategy(args.strategy)  # first: TensorFlow fixes its devices early
    replica_batch_size(args.batch_size, strategy)  # the global batch splits evenly
    keras.utils.set_random_seed(args.seed)
    images, labels = load_mnist(args.data_dir)

    def task(split, queries, augment=None):
        return TwoDigitTask(images, labels, split=split, protocol=args.protocol,
                            shots=args.shots, queries=queries, augment=augment)

    train = task("train", args.queries, augment=args.augment)  # val/test images stay as drawn
    validation = task("val", 2).fixed_episodes(args.validation_episodes, seed=args.seed)
    test = task("test", 2).fixed_episodes(args.test_episodes, seed=args.seed)

    # The learning rate anneals to zero over the planned steps, or over --minutes if given.
    timed = args.minutes is not None
    with strategy.scope():
        model = two_digit_model(args.learner, learning_rate=args.learning_rate,
                                decay_steps=None if timed else args.epochs * args.steps_per_epoch,
                                weight_decay=args.weight_decay)
    enable_multi_worker_fit(model)
    budget = TimeBudget(args.minutes if timed else float("inf"), anneal_learning_rate=timed)
    # Checkpoint every epoch; a killed run continues with --resume, on the same episodes.
    backup = BackupAndRestore(
        args.checkpoint_dir or os.path.join(args.output_dir, "checkpoint"),
        config=_checkpoint_config(args), resume=args.resume)
    resumed_epoch, resumed_at = backup.epoch, backup.start_batch
    model.fit(
        train.dataset(args.batch_size, seed=args.seed, start_batch=backup.start_batch),
        steps_per_epoch=args.steps_per_epoch,
        epochs=args.epochs,
        validation_data=validation.as_fit_data(),
        # A NaN or infinite loss stops the run at that step with NonFiniteLossError, before
        # the checkpoint of that epoch is written.
        callbacks=[StopOnNonFiniteLoss(), budget, backup,
                   *(tensorboard_callbacks(args.tensorboard, validation)
                     if args.tensorboard else [])],
        shuffle=False,
        verbose=args.verbose,
    )
    history = backup.history  # every epoch, those before an interruption included
    epochs_run = len(history["loss"])
    score = evaluate(model, test)
    print(f"\n{args.learner} learner, {args.protocol} protocol, {args.shots}-shot, numbers never "
          f"seen in training: {score}")

    trained = backup.start_batch * args.batch_size
    trained_now = (backup.start_batch - resumed_at) * args.batch_size
    results = {
        "protocol": args.protocol, "shots": args.shots, "learner": args.learner,
        "accuracy": score.mean, "ci95": score.ci95, "test_episodes": score.episodes,
        "train_seconds": round(budget.elapsed, 1), "epochs": epochs_run,
        "steps_per_epoch": args.steps_per_epoch, "batch_size": args.batch_size,
        "queries": args.queries, "learning_rate": args.learning_rate,
        "augment": args.augment, "weight_decay": args.weight_decay,
        "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync,
        "episodes_trained": trained,
        "episodes_trained_per_second": round(trained_now / max(budget.elapsed, 1e-9), 1),
        "resumed_from_epoch": resumed_epoch or None,
        "episodes_generated_per_second": round(generation_rate(train, args.batch_size), 1),
        "val_accuracy": [round(v, 4) for v in history.get("val_accuracy", [])],
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "seed": args.seed, "split_seed": SPLIT_SEED, "commit": _commit(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "versions": {"python": platform.python_version(), "keras": keras.__version__},
        "date": time.strftime("%Y-%m-%d"),
    }
    shown = test[:6]
    predictions = model.predict(shown.inputs(), verbose=0)

    # Outputs are written only now that training and evaluation succeeded, each atomically:
    # a failed or interrupted run never overwrites or corrupts what a previous run saved.
    # Every worker of a cluster runs this; only the chief keeps what it writes.
    with contextlib.ExitStack() as folders:
        out = folders.enter_context(output_dir(args.output_dir))
        places = [(out, "")]
        if args.figures_dir:
            places.append((folders.enter_context(output_dir(args.figures_dir)), "two_digit_"))
        save_model(model, os.path.join(out, "model.keras"))
        for folder, prefix in places:  # l2l.viz.save writes atomically
            save(plot_episodes(shown, predictions, rows=6,
                               title=f"held-out numbers, {args.learner} learner\n{score}"),
                 os.path.join(folder, f"{prefix}episodes.png"))
            save(plot_learning_curve(history, title=f"{args.learner} learner, "
                                     f"{args.protocol}, {args.shots}-shot"),
                 os.path.join(folder, f"{prefix}learning_curve.png"))
        write_json(os.path.join(out, "results.json"), results)
    backup.delete()  # everything is saved: the checkpoint is no longer needed (chief only)
    if is_chief():
        print(f"Saved the model, results.json and figures to {args.output_dir}/")
    return results


def _checkpoint_config(args: argparse.Namespace) -> dict:
    """The settings a checkpoint must share with the run that resumes it."""
    keys = ("protocol", "shots", "learner", "steps_per_epoch", "batch_size", "queries",
            "learning_rate", "seed", "augment", "weight_decay")
    return {k: getattr(args, k) for k in keys}


def _pair(text: str | None) -> list[float] | None:
    """`--augment` as `[shift, degrees]` (a list: it round-trips through the checkpoint's
    JSON config unchanged); None for none. `TwoDigitTask` checks the values."""
    if text is None or text.lower() == "none":
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise SystemExit(f"--augment takes SHIFT,DEGREES such as 2,10 or none, got {text!r}.") \
            from None


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=os.path.dirname(__file__)
                              ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str]) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    cli.run(main)  # an l2l error (missing data, ...) prints one line and exits with status 2

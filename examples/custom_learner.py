"""Write your own learner: closed-form ridge regression in a dozen lines, trained end to end.

The learner below solves ridge regression on the support set, per episode, in closed form, and
emits the solution as the weights of a linear predictor (as R2-D2 does, Bertinetto et al.,
2019). The features it regresses on come from an MLP shared by support and query examples
(the `MetaModel` encoder), and that MLP and the ridge penalty are meta-trained with `fit`
through the solve, so the features become ones that a few points determine well.

    python examples/custom_learner.py            # sinusoid regression, 5 to 10 shots
    python examples/custom_learner.py --quick    # a few seconds, for a smoke test

It prints the mean squared error on held-out sinusoids (and that of predicting zero), saves
the model as `.keras`, loads it back, and checks that the loaded model predicts the same.
docs/extending.md explains the contract this learner follows.
"""

from __future__ import annotations

import argparse
import math
import os

import keras
import numpy as np
from keras import ops

from l2l import cli
from l2l.evaluation import evaluate
from l2l.learners import WEIGHTS, Learner, register
from l2l.models import MetaModel
from l2l.ops import as_features
from l2l.predictors import GeneratedDensePredictor
from l2l.tasks import SinusoidTask


@register  # so that keras.models.load_model can rebuild it from the .keras file
class RidgeLearner(Learner):
    """Weights of a linear predictor from ridge regression on the support set."""

    def __init__(self, l2: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.l2 = l2

    def build(self, support_x_shape, support_y_shape=None, support_mask_shape=None):
        self.log_l2 = self.add_weight(shape=(), name="log_l2",
                                      initializer=keras.initializers.Constant(math.log(self.l2)))

    def call(self, support_x, support_y, support_mask, training=None):
        mask = ops.expand_dims(ops.cast(support_mask, "float32"), -1)        # padding rows -> 0
        x = ops.concatenate([support_x, ops.ones_like(support_x[..., :1])], axis=-1) * mask
        y = as_features(support_y, "float32") * mask
        gram = ops.einsum("bsi,bsj->bij", x, x) + ops.exp(self.log_l2) * ops.eye(x.shape[-1])
        w = ops.linalg.solve(gram, ops.einsum("bsi,bso->bio", x, y))       # [B, D + 1, out]
        return {WEIGHTS: {"kernel_0": w[:, :-1], "bias_0": w[:, -1]}}

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}


def build_model(width: int = 40, learning_rate: float = 3e-3) -> MetaModel:
    """Shared MLP features -> RidgeLearner -> linear predictor, compiled for MSE."""
    features = keras.Sequential([keras.layers.Dense(width, activation="relu"),
                                 keras.layers.Dense(width, activation="relu")], name="features")
    model = MetaModel(RidgeLearner(), GeneratedDensePredictor(), encoder=features)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return model


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=int, default=3000, help="training steps")
    p.add_argument("--batch-size", type=int, default=32, help="episodes per training step")
    p.add_argument("--width", type=int, default=40, help="units of the feature MLP's layers")
    p.add_argument("--test-episodes", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output-dir", default="runs/custom_learner")
    p.add_argument("--quick", action="store_true", help="400 steps, 200 test episodes")
    cli.add_debug_flag(p)
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.test_episodes = 400, 200
    return args


def run(args: argparse.Namespace) -> dict:
    """Train, score on held-out tasks, save, load, and compare; returns the figures."""
    keras.utils.set_random_seed(args.seed)
    task = SinusoidTask(shots=(5, 10), queries=10)
    test = task.fixed_episodes(args.test_episodes, seed=args.seed)
    model = build_model(args.width)
    model.fit(task.dataset(args.batch_size, seed=args.seed), steps_per_epoch=args.steps,
              epochs=1, verbose=0)
    score = evaluate(model, test, metric="mse")
    zero = evaluate(_Zero(), test, metric="mse")
    print(f"RidgeLearner on held-out sinusoids: {score}\npredicting zero:                   {zero}")

    os.makedirs(args.output_dir, exist_ok=True)
    path = os.path.join(args.output_dir, "ridge.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    shown = test[:16].inputs()
    gap = float(np.max(np.abs(loaded.predict(shown, verbose=0) - model.predict(shown, verbose=0))))
    print(f"saved to {path}, loaded back: largest prediction difference {gap:.2e}")
    return {"mse": score.mean, "ci95": score.ci95, "zero_mse": zero.mean, "reload_gap": gap,
            "path": path}


class _Zero:
    """The trivial baseline: predict zero for every query."""

    def predict(self, inputs, batch_size=None, verbose=0):
        return np.zeros(inputs["query_x"].shape[:2], "float32")


def main(argv: list[str]) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    cli.run(main)  # an l2l error prints one line and exits with status 2 (--debug: traceback)

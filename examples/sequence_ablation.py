"""Why the LSTM learner levels off on quadratic functions: a fixed-step ablation (issue 14).

Each configuration trains `MetaModel(SequenceLearner(...), ConditionedPredictor(...))` for the
same number of Adam steps (cosine decay, batch 32, ragged 1..50 shots) and scores the first
300 of the `quadratic` benchmark's stored test tasks with the first k support examples:

    python examples/sequence_ablation.py NAME DELAY UNITS EMBED INTERACTION LR STEPS [TASK POOL]

e.g. `python examples/sequence_ablation.py D 0 128 128,128 1 3e-3 2500 quadratic`. Results on a
shared, heavily loaded 2-core CPU (load 15-25), seed 0, 2,500 steps, query MSE at k = 35
(predicting zero: 0.726; the affine least-squares fit of a quadratic leaves about 0.096):

| name | labels | units | step MLP | predictor | Adam | k=35 |
| --- | --- | --- | --- | --- | --- | --- |
| A (old preset) | delayed | 64 | (64,) | concat | 1e-3 | 0.124 |
| B | pairs | 64 | (64,) | concat | 1e-3 | 0.115 |
| C | pairs | 128 | (128, 128) | comparison | 1e-3 | 0.109 |
| E | pairs + pooled h | 64 | (64,) | concat | 1e-3 | 0.111 |
| D (new preset) | pairs | 128 | (128, 128) | comparison | 3e-3 | 0.069 |

Reading: every 1e-3 configuration sits at the affine fit (~0.1): the LSTM learns the
linear part of each function and not yet its quadratic terms. Label delay, capacity and
pooling change that by under 10%; the learning rate (with the larger model) is what moves
it. The `"sequence_pairs"` kind of `l2l.presets.regression_model` is configuration D; the
controlled probes that set the `"sequence"` kind are `benchmarks/sequence_ablation.py`.
"""

import json
import sys
import time

import keras

from benchmarks.common import stored_episodes
from benchmarks.quadratic import first_k
from l2l.evaluation import evaluate
from l2l.learners import SequenceLearner
from l2l.models import MetaModel
from l2l.predictors import ConditionedPredictor
from l2l.tasks import QuadraticTask


def main(name, delay, units, embed, interaction, lr, steps, task_name="quadratic", pool="0"):
    if task_name != "quadratic":
        raise SystemExit("only the quadratic task is ablated here")
    units, steps = int(units), int(steps)
    embed = tuple(int(e) for e in embed.split(",")) if embed != "-" else None
    keras.utils.set_random_seed(0)
    test = stored_episodes(QuadraticTask(dims=2, shots=50, queries=20),
                           "quadratic-d2-50shot-q20", 1000, "test")[:300]
    train = QuadraticTask(dims=2, shots=(1, 50), queries=10)
    model = MetaModel(SequenceLearner(units=units, delay_labels=delay == "1", embed_units=embed,
                                      pool_outputs=pool == "1"),
                      ConditionedPredictor(units=(2 * units, 2 * units),
                                           interaction=interaction == "1"))
    model.compile(optimizer=keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(float(lr), steps)), loss="mse")
    start = time.time()
    model.fit(train.dataset(32, seed=0), steps_per_epoch=steps, epochs=1, verbose=0)
    mse = {k: round(evaluate(model, first_k(test, k), metric="mse").mean, 4)
           for k in (5, 10, 20, 35, 50)}
    print(json.dumps({"name": name, "seconds": round(time.time() - start), "steps": steps,
                      "mse": mse}))


if __name__ == "__main__":
    main(*sys.argv[1:])

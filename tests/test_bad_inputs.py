"""Bad input gets ONE clear error that names the problem and the fix, and spoils nothing saved.

Each case below is one distinct bad input, the exception it must raise, a pattern for the
problem and a pattern for the fix, both searched in the message. Where the check lives:

- episodes and tasks: `l2l.episodes.Episode`, `l2l.tasks.*` (shots, ways, queries, dtypes);
- data files: `l2l.datasets` (missing data offline, checksums, truncated or corrupt files);
- models: `l2l.models.MetaModel` (input keys, dtypes, empty support sets and NaN at fit time,
  learner/predictor/target shapes), `l2l.predictors` (learner output the predictor needs);
- saved models and checkpoints: `l2l.training` (unknown custom classes, damaged files,
  resuming another model or configuration, a second run on one checkpoint folder);
- distribution: `l2l.training.distribute` (malformed TF_CONFIG, uneven global batch, late devices).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

import l2l
from l2l.datasets import ChecksumError, CorruptDataError, DataNotFoundError, load_mnist
from l2l.datasets.idx import read_idx, write_idx
from l2l.episodes import Episode
from l2l.errors import InvalidValueError, L2LError, NonFiniteLossError
from l2l.learners import DenseWeightGenerator, Learner, PooledLearner
from l2l.models import MetaModel
from l2l.predictors import ConditionedPredictor, GeneratedDensePredictor
from l2l.presets import classification_model, two_digit_model
from l2l.serialization import register
from l2l.tasks import FewShotClassification, SinusoidTask, TwoDigitTask
from l2l.tasks.base import check_shots
from l2l.training import (
    BackupAndRestore,
    CheckpointError,
    ModelFileError,
    atomic_path,
    load_model,
    save_model,
)
from l2l.training.distribute import cluster_spec, logical_cpu_devices, replica_batch_size

SINE = SinusoidTask(shots=3, queries=4)


def sine_inputs(batch: int = 2):
    return SINE.episodes(batch, seed=0).as_fit_data()


def tiny_model(code_dim: int = 8, output_units: int = 1) -> MetaModel:
    model = MetaModel(PooledLearner(code_dim=code_dim, units=(8,)),
                      ConditionedPredictor(units=(8,), output_units=output_units))
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    return model


def fit(model, x, y, epochs=1, **kwargs):
    return model.fit(x, y, epochs=epochs, batch_size=len(y), verbose=0, shuffle=False, **kwargs)


class UnpooledLearner(Learner):
    """Forgets to pool: returns one feature vector per support example."""

    def call(self, support_x, support_y, support_mask, training=None):
        return {"features": keras.ops.cast(support_x, "float32")}


@register
class LabLearner(Learner):
    """A user's custom learner, registered for saving."""

    def call(self, support_x, support_y, support_mask, training=None):
        return {"features": keras.ops.mean(keras.ops.cast(support_x, "float32"), axis=1)}


# ------------------------------------------------------------------ one case per bad input


def episode_empty_support():
    Episode(np.zeros((2, 0, 1), "float32"), np.zeros((2, 0, 1), "float32"),
            np.zeros((2, 3, 1), "float32"), np.zeros((2, 3, 1), "float32"))


def episode_nan():
    x = np.zeros((2, 3, 1), "float32")
    Episode(x, x, np.full((2, 3, 1), np.nan, "float32"), x)


def model_empty_support():
    x, _ = sine_inputs()
    x = {**x, "support_x": x["support_x"][:, :0], "support_y": x["support_y"][:, :0],
         "support_mask": x["support_mask"][:, :0]}
    tiny_model()(x)


def model_all_masked_support_at_fit_time():
    x, y = sine_inputs()
    fit(tiny_model(), {**x, "support_mask": np.zeros_like(x["support_mask"])}, y)


def model_nan_input_at_fit_time():
    x, y = sine_inputs()
    support_y = x["support_y"].copy()
    support_y[1, 2] = np.nan
    fit(tiny_model(), {**x, "support_y": support_y}, y)


def model_string_labels():
    x, _ = sine_inputs()
    tiny_model()({**x, "support_y": np.full(x["support_y"].shape, "three")})


def model_missing_input():
    x, _ = sine_inputs()
    del x["support_mask"]
    tiny_model()(x)


def predictor_needs_weights_learner_emits_features():
    x, _ = sine_inputs()
    MetaModel(PooledLearner(code_dim=8), GeneratedDensePredictor())(x)


def generated_weights_of_wrong_size():
    x, _ = sine_inputs()
    MetaModel(DenseWeightGenerator(layer_units=(4, 1), input_dim=5), GeneratedDensePredictor(),
              encoder=keras.layers.Dense(7))(x)


def learner_features_not_pooled():
    x, _ = sine_inputs()
    MetaModel(UnpooledLearner(), ConditionedPredictor(units=(8,)))(x)


def predictor_outputs_do_not_match_targets():
    x, y = sine_inputs()
    two_targets = np.concatenate([y, -y], axis=-1)  # two numbers per query: [B, Q, 2]
    fit(tiny_model(output_units=3), x, two_targets)


def two_digit_float_images(digits):
    images, labels = digits
    TwoDigitTask(images.astype("float32") / 255, labels)


def two_digit_odd_queries(digits):
    TwoDigitTask(*digits, queries=3)


def zero_shots():
    check_shots(0)


def n_way_larger_than_classes(digits):
    images, labels = digits
    FewShotClassification(images, labels, ways=12)


def shots_plus_queries_larger_than_class(digits):
    images, labels = digits  # 60 images per digit
    FewShotClassification(images, labels, ways=5, shots=50, queries=20)


def string_class_labels(digits):
    images, labels = digits
    FewShotClassification(images, labels.astype(str), ways=5)


def mnist_missing_offline(tmp_path):
    load_mnist(tmp_path, download=False)


def mnist_checksum_mismatch(tmp_path):
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(10, np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((10, 28, 28), np.uint8))
    load_mnist(tmp_path, download=False)


def mnist_truncated_idx(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, np.zeros((5, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    read_idx(path)


def mnist_truncated_gzip(tmp_path):
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(np.random.default_rng(0).bytes(5000))[:1000])
    read_idx(path)


def mnist_corrupt_npz(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip archive")
    load_mnist(tmp_path, download=False, verify=False)


def load_unknown_custom_learner(tmp_path):
    x, _ = sine_inputs()
    model = MetaModel(LabLearner(), ConditionedPredictor(units=(4,)))
    model(x)
    model.save(tmp_path / "lab.keras")
    registry = keras.saving.get_custom_objects()
    saved = registry.pop("l2l>LabLearner")  # as in a fresh process that never imported it
    try:
        l2l.load_model(tmp_path / "lab.keras")  # = l2l.training.load_model
    finally:
        registry["l2l>LabLearner"] = saved


def load_truncated_model(tmp_path):
    x, _ = sine_inputs()
    model = tiny_model()
    model(x)
    model.save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()
    (tmp_path / "m.keras").write_bytes(data[: len(data) // 2])
    load_model(tmp_path / "m.keras")


def save_model_wrong_suffix(tmp_path):
    save_model(tiny_model(), tmp_path / "model.h5")


def malformed_tf_config():
    cluster_spec({"TF_CONFIG": '{"cluster": {"worker": ["a:1"]}, "task": '})


def tf_config_index_out_of_range():
    cluster_spec({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1", "b:1"]},
                                           "task": {"type": "worker", "index": 2}})})


def uneven_global_batch():
    replica_batch_size(30, types.SimpleNamespace(num_replicas_in_sync=4))


def logical_devices_after_tensorflow_started():
    tf.config.list_logical_devices("CPU")  # TensorFlow is running in this process
    logical_cpu_devices(3)


def resume_other_model(checkpoint):
    folder, _ = checkpoint
    backup = BackupAndRestore(folder, config={"seed": 0})
    x, y = sine_inputs()
    fit(tiny_model(code_dim=16), x, y, callbacks=[backup])


def resume_other_config(checkpoint):
    folder, _ = checkpoint
    BackupAndRestore(folder, config={"seed": 1})


def fresh_run_on_existing_checkpoint(checkpoint):
    folder, _ = checkpoint
    BackupAndRestore(folder, config={"seed": 0}, resume=False)


def damaged_checkpoint_state(tmp_path):
    (tmp_path / "checkpoint.json").write_text('{"epoch": 3, "step":')
    BackupAndRestore(tmp_path)


def second_run_on_one_checkpoint_folder(tmp_path):
    from l2l.training import checkpoints

    first = BackupAndRestore(tmp_path)
    first.set_model(tiny_model())
    first.on_train_begin()  # holds the folder's lock, as a running fit does
    checkpoints._HELD_LOCKS.clear()  # so that this process looks like another one
    try:
        second = BackupAndRestore(tmp_path)
        second.set_model(tiny_model())
        second.on_train_begin()
    finally:
        first._release_lock()


# The eight mistakes of issue 13: silent garbage, silent NaN, raw TensorFlow errors.


def five_way(digits, **kwargs):
    """A tiny 5-way Prototypical Network (flattened pixels), and 5-way episodes [2, 5+10]."""
    images, labels = digits
    task = FewShotClassification(images[..., None], labels, ways=kwargs.pop("ways", 5),
                                 shots=1, queries=2)
    model = classification_model("protonet", 5, encoder=keras.layers.Flatten(), **kwargs)
    return model, task.fixed_episodes(2, seed=0).as_fit_data()


def labels_out_of_range_at_predict(digits):
    model, (x, _) = five_way(digits)
    model.predict({**x, "support_y": x["support_y"] + 5}, verbose=0)


def nan_in_query_y_at_fit(digits):
    model, (x, y) = five_way(digits)
    y = y.astype("float32")
    y[1, 3] = np.nan
    fit(model, x, y)


def infinite_learning_rate(digits):
    five_way(digits, learning_rate=float("inf"))


def negative_query_labels_at_fit(digits):
    model, (x, y) = five_way(digits)
    fit(model, x, y - 1)


def ten_way_episodes_into_five_way_model(digits):
    model, (x, y) = five_way(digits, ways=10)
    fit(model, x, y)


def two_digit_model_on_28x28_images(digits):
    model = two_digit_model("features")
    x, _ = TwoDigitTask(*digits).fixed_episodes(2, seed=0).as_fit_data()
    model.predict(x, verbose=0)  # built for 28x56 two-digit images
    model.predict({k: v[..., :28, :] if k.endswith("_x") else v for k, v in x.items()},
                  verbose=0)


def three_channels_into_one_channel_model(digits):
    model, (x, y) = five_way(digits)
    fit(model, x, y)
    model.predict({k: np.repeat(v, 3, -1) if k.endswith("_x") else v for k, v in x.items()},
                  verbose=0)


def support_mask_of_one_half():
    x, y = sine_inputs()
    fit(tiny_model(), {**x, "support_mask": np.full_like(x["support_mask"], 0.5)}, y)


def vectors_into_a_conv_encoder():
    x = {"support_x": np.zeros((2, 5, 6), "float32"), "support_y": np.tile(np.arange(5), (2, 1)),
         "support_mask": np.ones((2, 5), "float32"), "query_x": np.zeros((2, 5, 6), "float32")}
    classification_model("protonet", 5)(x)


def loss_diverges():
    x, y = sine_inputs(4)
    model = tiny_model()
    model.optimizer.learning_rate.assign(1e30)
    model.fit(x, y, batch_size=1, epochs=1, verbose=0)


CASES = [
    # (case, exception, problem pattern, fix pattern or None where the message names only
    # the problem: Episode's own checks, kept here as they are)
    (episode_empty_support, ValueError, r"empty support set \(support_x\.shape\[1\] == 0\)",
     None),
    (episode_nan, ValueError, r"Episode\.query_x contains NaN or infinite", None),
    (model_empty_support, ValueError, r"empty support set",
     r"needs at least one support example"),
    (model_all_masked_support_at_fit_time, InvalidValueError,
     r"support_mask all zero in 2 episode", r"needs at least one real support example"),
    (model_nan_input_at_fit_time, InvalidValueError,
     r"`support_y`: expected finite numbers.*1 NaN or infinite", r"remove or replace them"),
    (model_string_labels, TypeError, r"support_y of dtype string",
     r"encode labels as integers"),
    (model_missing_input, ValueError, r"expected a dict with keys", r"an Episode's inputs\(\)"),
    (predictor_needs_weights_learner_emits_features, ValueError,
     r"needs the learner to emit 'weights'", r"Pair it with a learner that emits 'weights'"),
    (generated_weights_of_wrong_size, ValueError, r"expects inputs of size 5",
     r"set the learner's input_dim to 7"),
    (learner_features_not_pooled, ValueError, r"'features' of shape \(2, 3, 1\)",
     r"Pool over the support set"),
    (predictor_outputs_do_not_match_targets, ValueError, r"returns 3 outputs per query but "
     r"query_y has 2", r"output_units=2"),
    (two_digit_float_images, ValueError, r"images must be uint8", r"load_mnist\(\)"),
    (two_digit_odd_queries, ValueError, r"queries must be an even number",
     r"half same, half different"),
    (zero_shots, ValueError, r"got 0", r"shots must be >= 1 \(or a \(min, max\) range"),
    (n_way_larger_than_classes, ValueError, r"ways=12 needs at least 12 classes but only 10",
     r"lower ways or allow more classes"),
    (shots_plus_queries_larger_than_class, ValueError, r"has only 60 examples",
     r"Lower shots or queries"),
    (string_class_labels, ValueError, r"labels must be a 1-D integer array \[N\], got <U",
     None),
    (mnist_missing_offline, DataNotFoundError, r"Could not find the MNIST test split",
     r"To fix this.*L2L_DATA_DIR"),
    (mnist_checksum_mismatch, ChecksumError, r"has md5 \w+, but the canonical",
     r"delete it and download it again"),
    (mnist_truncated_idx, CorruptDataError, r"is truncated", r"obtain the file again"),
    (mnist_truncated_gzip, CorruptDataError, r"damaged or truncated gzip",
     r"obtain the file again"),
    (mnist_corrupt_npz, CorruptDataError, r"not a readable \.npz archive",
     r"obtain the file again"),
    (load_unknown_custom_learner, ModelFileError,
     r"LabLearner \(registered as 'l2l>LabLearner'", r"Import the module that defines"),
    (load_truncated_model, ModelFileError, r"not a readable \.keras model.*truncated",
     r"Restore it from a copy or train again"),
    (save_model_wrong_suffix, ValueError, r"writes the \.keras format", r"name the file"),
    (malformed_tf_config, ValueError, r"TF_CONFIG is not valid JSON", r"should look like"),
    (tf_config_index_out_of_range, ValueError, r"task index 2 is out of range",
     r"indexed from 0"),
    (uneven_global_batch, ValueError, r"30 does not split evenly over 4 replicas",
     r"use a multiple of 4"),
    (logical_devices_after_tensorflow_started, RuntimeError,
     r"already initialised its devices", r"first thing in the program"),
    (resume_other_model, CheckpointError, r"made by a different model:\n.*code_dim: 8 in the "
     r"checkpoint, 16 now", r"Resume with the model that made it"),
    (resume_other_config, CheckpointError, r"different configuration:\n.*seed: 0 in the "
     r"checkpoint, 1 now", r"delete the folder to start afresh"),
    (fresh_run_on_existing_checkpoint, CheckpointError, r"already holds a checkpoint",
     r"--resume"),
    (damaged_checkpoint_state, CheckpointError, r"not a readable l2l checkpoint",
     r"start afresh"),
    (second_run_on_one_checkpoint_folder, CheckpointError, r"Another process \(pid \d+\) is "
     r"training with", r"give this run its own folder"),
    (labels_out_of_range_at_predict, InvalidValueError, r"`support_y`: expected class labels "
     r"in 0\.\.4, since the learner was built for ways=5.*labels from 5 to 9",
     r"asked for more classes than it was built for"),
    (nan_in_query_y_at_fit, InvalidValueError, r"`query_y`: expected finite numbers.*1 NaN",
     r"remove or replace the NaN"),
    (infinite_learning_rate, InvalidValueError, r"`learning_rate`.*Received: learning_rate=inf",
     r"typical rates are"),
    (negative_query_labels_at_fit, InvalidValueError, r"`query_y`: expected class labels in "
     r"0\.\.4.*ways=5.*labels from -1 to 3", r"relabel them"),
    (ten_way_episodes_into_five_way_model, InvalidValueError, r"`support_y`.*ways=5 classes.*"
     r"labels from 0 to 9: the model was asked for more classes than it was built for",
     r"build the model with ways= at least"),
    (two_digit_model_on_28x28_images, InvalidValueError, r"`support_x`: expected examples of "
     r"shape \(28, 56, 1\).*shape=\(2, 1, 28, 28, 1\)", r"cannot read others"),
    (three_channels_into_one_channel_model, InvalidValueError, r"`support_x`: expected "
     r"examples of shape \(28, 28, 1\).*shape=\(2, 5, 28, 28, 3\)", r"channel counts"),
    (support_mask_of_one_half, InvalidValueError, r"`support_mask`: expected 0 \(padding\) or "
     r"1.*values from 0\.5 to 0\.5", r"does not weight them"),
    (vectors_into_a_conv_encoder, InvalidValueError, r"`support_x`: expected examples that the "
     r"encoder `conv_encoder` can read.*failed on examples of shape \(6,\)",
     r"a conv encoder reads images \[H, W, C\]"),
    (loss_diverges, NonFiniteLossError, r"loss became (nan|inf) at step \d+ \(epoch 1, batch "
     r"\d+\)", r"learning rate too high.*diverging inner loop"),
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A folder holding a real checkpoint (1 epoch of a tiny model), and its files' bytes."""
    folder = tmp_path_factory.mktemp("checkpoint")
    x, y = sine_inputs()
    fit(tiny_model(), x, y, callbacks=[BackupAndRestore(folder, config={"seed": 0})])
    return folder, snapshot(folder)


def snapshot(folder) -> dict:
    return {p: open(os.path.join(folder, p), "rb").read() for p in sorted(os.listdir(folder))}


def test_there_are_at_least_fifteen_distinct_bad_inputs_whose_error_names_the_fix():
    assert len({case for case, *_ in CASES}) == len(CASES)
    assert sum(fix is not None for *_, fix in CASES) >= 15


# Errors that are not about the caller's data: the distributed setup
# (l2l.training.distribute, its own module); everything else a caller causes raises an
# l2l.errors.L2LError.
NOT_L2L_ERRORS = {"malformed_tf_config", "tf_config_index_out_of_range", "uneven_global_batch",
                  "logical_devices_after_tensorflow_started"}


@pytest.mark.parametrize("case,error,problem,fix", CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_input_raises_one_clear_error(case, error, problem, fix, request, tmp_path):
    names = case.__code__.co_varnames[: case.__code__.co_argcount]
    kwargs = {name: tmp_path if name == "tmp_path" else request.getfixturevalue(name)
              for name in names}
    with pytest.raises(error) as raised:
        case(**kwargs)
    assert case.__name__ in NOT_L2L_ERRORS or isinstance(raised.value, L2LError), raised.value
    message = str(raised.value)
    assert re.search(problem, message, re.S), message
    assert fix is None or re.search(fix, message, re.S), message
    if "checkpoint" in kwargs:  # a refused resume leaves the checkpoint exactly as it was
        folder, before = kwargs["checkpoint"]
        assert snapshot(folder) == before


# ------------------------------------------------------- nothing saved is spoiled by a failure


def test_a_failed_save_keeps_the_previous_model(tmp_path):
    x, _ = sine_inputs()
    model = tiny_model()
    model(x)
    save_model(model, tmp_path / "model.keras")
    before = (tmp_path / "model.keras").read_bytes()

    broken = MetaModel(UnpooledLearner(), ConditionedPredictor(units=(4,)))  # not registered
    broken.get_config = lambda: (_ for _ in ()).throw(RuntimeError("cannot serialise"))
    with pytest.raises(RuntimeError, match="cannot serialise"):
        save_model(broken, tmp_path / "model.keras")
    assert (tmp_path / "model.keras").read_bytes() == before
    assert os.listdir(tmp_path) == ["model.keras"]  # no temporary file left behind
    np.testing.assert_allclose(load_model(tmp_path / "model.keras")(x), model(x))


def test_an_interrupted_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"accuracy": 0.9}')
    with pytest.raises(KeyboardInterrupt), atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write('{"accur')
        raise KeyboardInterrupt
    assert path.read_text() == '{"accuracy": 0.9}' and os.listdir(tmp_path) == ["results.json"]


@pytest.mark.parametrize("failure", ["inf query_x", "NaN query_y", "mask 0.5",
                                     "loss diverges"])
def test_a_run_that_fails_mid_training_keeps_the_last_checkpoint(checkpoint, failure):
    """A failed check or a non-finite loss at epoch 2 leaves epoch 1's checkpoint as it was."""
    folder, before = checkpoint
    x, y = sine_inputs()
    model, error = tiny_model(), InvalidValueError
    if failure == "inf query_x":
        x = {**x, "query_x": np.full_like(x["query_x"], np.inf)}
    elif failure == "NaN query_y":
        y = np.where(np.arange(y.size).reshape(y.shape) == 3, np.nan, y).astype("float32")
    elif failure == "mask 0.5":
        x = {**x, "support_mask": np.full_like(x["support_mask"], 0.5)}
    else:  # the second step's targets overflow the loss (a resume restores the learning rate)
        y = (y * np.array([1.0, 1e30])[:, None, None]).astype("float32")
        error = NonFiniteLossError
    backup = BackupAndRestore(folder, config={"seed": 0})
    assert (backup.epoch, backup.start_batch) == (1, 1)
    with pytest.raises(error):
        model.fit(x, y, epochs=2, batch_size=1, verbose=0, shuffle=False, callbacks=[backup])
    assert snapshot(folder) == before



def test_load_model_imports_every_module_that_registers_an_l2l_class(tmp_path):
    """A fresh process loading any l2l model must not need to import l2l modules by hand.

    Lists l2l's modules with the walker `load_model` uses (`l2l.serialization.package_modules`,
    here skipping nothing) and reads each one for classes registered for serialisation; none
    may sit in a module `load_model` leaves alone. Then, in a fresh process that imports
    nothing of l2l but `l2l.load_model`, loads a model file and checks that every one of those
    modules was imported, every class is known to Keras, and no deprecated alias was imported.
    """
    import pathlib
    import re
    import subprocess
    import sys

    import keras

    import l2l
    from l2l.serialization import NOT_IMPORTED, package_modules

    root = pathlib.Path(l2l.__file__).parent
    modules = package_modules(skip=())
    assert len(modules) == len(list(root.rglob("*.py"))) - 1  # every file but l2l/__init__.py
    decorator = re.compile(r"^@(?:[\w.]+\.)?register\s*\n(?:@.*\n)*class (\w+)", re.M)
    registering = {}
    for module in modules:
        path = root.parent.joinpath(*module.split("."))
        classes = decorator.findall((path / "__init__.py" if path.is_dir()
                                     else path.with_suffix(".py")).read_text())
        if classes:
            registering[module] = classes
    assert {"l2l.learners.hyper", "l2l.models", "l2l.statistician"} <= set(registering)
    left_alone = [m for m in registering
                  if any(m == skip or m.startswith(f"{skip}.") for skip in NOT_IMPORTED)]
    assert not left_alone, f"load_model does not import {left_alone}: see NOT_IMPORTED"
    model = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(model)
    check = f"""
import sys, warnings, keras, l2l
warnings.filterwarnings("error", r"l2l\\S* is deprecated")  # a deprecated alias was imported
assert not [m for m in sys.modules if m.startswith("l2l.")], "import l2l must stay light"
l2l.load_model({str(model)!r})
registering = {registering!r}
missing = sorted(m for m in registering if m not in sys.modules)
unknown = sorted(c for cs in registering.values() for c in cs
                 if keras.saving.get_registered_object("l2l>" + c) is None)
assert not missing and not unknown, (missing, unknown)
"""
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, f"l2l.load_model leaves unimported: {done.stderr[-2000:]}"


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), 0, -1.0, "1"])
def test_number_checks_refuse_bools_nan_infinity_and_strings(value):
    from l2l.validation import check_open_interval, check_positive_number

    with pytest.raises(InvalidValueError, match="`rate`: expected a positive finite number"):
        check_positive_number("rate", value)
    with pytest.raises(InvalidValueError, match="`gate`: expected a number in \\(0, 1\\)"):
        check_open_interval("gate", value, 0.0, 1.0, "a number in (0, 1)")
    assert check_positive_number("rate", np.float32(0.5)) == 0.5
    assert check_open_interval("gate", np.int64(1), 0.0, 2.0, "a number in (0, 2)") == 1.0

# Over 300 lines: every input check of every model lives here, on purpose (one rule, one
# message style); the checks are short, the module is long.
"""Episode inputs checked once, the same way, wherever they enter a model.

`l2l.models.MetaModel`, the gradient-based meta-learners of `l2l.algorithms` and
`l2l.evaluation` all check what they are given with this module, so a mistake gets the same
message whichever model it reaches. Two kinds of check:

- *static* checks, on shapes and dtypes, run once per trace and cost nothing per step:
  `check_episode_inputs` (keys, dtypes, set sizes, support and query examples alike) and
  `checked_example_shape` (the example shape a model was built for; in the graph only where
  a trace left the shape unknown);
- *run-time* checks, on values, run at every step as cheap in-graph assertions (a reduction
  over a tensor each): `checked_inputs` (NaN/inf in float inputs, a support mask of 0/1 with
  at least one real example per episode), `checked_labels` (class labels in `0..ways-1`) and
  `checked_targets` (`query_y` finite, and in range for class logits). Each returns its tensor
  with the assertion attached, so nothing downstream reads a value before it is checked.

Called eagerly, a run-time check raises `l2l.errors.InvalidValueError` at once. Inside a traced
step TensorFlow reports a failed assertion as `InvalidArgumentError: Graph execution error`;
`l2l.checked_model.CheckedModel`, a mixin of `MetaModel` and `GradientMetaLearner`, turns it
back into the `InvalidValueError` at the Keras boundary. XLA compiles assertions away, so a
model compiled with XLA runs the same checks on its data before the compiled step (see
`l2l.checked_model`).

Example:

>>> import numpy as np
>>> from l2l.validation import checked_labels
>>> checked_labels(np.array([[0, 1, 7]]), ways=5, field="support_y")
Traceback (most recent call last):
...
l2l.errors.InvalidValueError: Received an invalid value for `support_y`: ...
"""

from __future__ import annotations

import contextlib
import math

import keras
import numpy as np
import tensorflow as tf

from l2l.episodes import INPUT_KEYS, QUERY_X, SUPPORT_MASK, SUPPORT_X, SUPPORT_Y
from l2l.errors import InvalidTypeError, InvalidValueError, describe, invalid_value

# A failed in-graph assertion carries its message between these marks, so that the Keras
# boundary can find it in TensorFlow's error text and raise it as an l2l error.
ASSERTION_START, ASSERTION_END = "l2l-check<", ">l2l-check"


# -- static checks (shapes and dtypes) ----------------------------------------------------------


def check_episode_inputs(inputs, owner: str) -> None:
    """Check the keys, dtypes and shapes of an `Episode.inputs()` dict given to `owner`."""
    if not isinstance(inputs, dict) or any(k not in inputs for k in INPUT_KEYS):
        got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise invalid_value("inputs", got, f"a dict with keys {list(INPUT_KEYS)}",
                            f"give {owner} an Episode's inputs() (or as_fit_data())")
    for key in INPUT_KEYS:
        check_numeric(key, inputs[key])
    sx, sy, mask, qx = (inputs[k] for k in INPUT_KEYS)
    for key in INPUT_KEYS:
        if len(inputs[key].shape) < 2:
            raise invalid_value(key, inputs[key], "a tensor [episodes, examples, ...]")
    if sx.shape[1] == 0:
        raise invalid_value(SUPPORT_X, sx, "at least one support example per episode",
                            "every episode needs at least one support example; an empty "
                            "support set has nothing to learn from")
    if len(sx.shape) != len(qx.shape) or tuple(sx.shape[2:]) != tuple(qx.shape[2:]):
        raise invalid_value(QUERY_X, qx, f"query examples of the support examples' shape "
                            f"{tuple(sx.shape[2:])}",
                            "support and query examples must have the same shape")
    for key, t in ((SUPPORT_Y, sy), (SUPPORT_MASK, mask)):
        if t.shape[1] is not None and sx.shape[1] is not None and t.shape[1] != sx.shape[1]:
            raise invalid_value(key, t, f"{sx.shape[1]} examples per episode, as support_x")
    if len(mask.shape) != 2:
        raise invalid_value(SUPPORT_MASK, mask, "a mask of shape [episodes, support]")


def check_numeric(name: str, x) -> None:
    """`x` must hold numbers (or booleans): strings and objects get an error naming `name`."""
    dtype = _dtype_name(x)
    if dtype != "bool" and not dtype.startswith(("float", "int", "uint", "bfloat")):
        raise InvalidTypeError(
            f"Received an invalid value for `{name}`: expected numbers. Received: {name} of "
            f"dtype {dtype}. Fix: encode labels as integers or floats (e.g. "
            "np.unique(labels, return_inverse=True)[1]) and images as uint8 or float arrays.")


def checked_example_shape(built_for: tuple | None, x, owner: str, field: str = SUPPORT_X):
    """`x [B, n, ...]`, whose examples must have the shape `owner` was built for.

    A model keeps the example shape of its first call; another shape is refused (the model is
    not rebuilt), with both shapes named: at once when the shape is known, by an in-graph
    assertion when a trace left some of it unknown (`None`).
    """
    if built_for is None:
        return x
    built_for, received = tuple(built_for), tuple(x.shape[2:])
    expected = f"examples of shape {built_for}, the shape {owner} was built for"
    fix = (f"this model was built for examples of shape {built_for} and cannot read others "
           "(other image sizes or channel counts); give it episodes of the task it was "
           "trained on, or build a new model for these")
    if len(received) != len(built_for) or any(
            None not in (r, b) and r != b for r, b in zip(received, built_for, strict=True)):
        raise invalid_value(field, x, expected, fix)
    if None not in received or None in built_for:  # (built on examples of unknown shape)
        return x
    shape = tf.shape(x)[2:]
    return after([require(tf.reduce_all(shape == tf.constant(built_for, shape.dtype)),
                          f"Received an invalid value for `{field}`: expected {expected}. "
                          f"Received: {field} with examples of shape ", shape,
                          f". Fix: {fix}.")], x)


def check_learning_rate(learning_rate):
    """`learning_rate`: a positive finite number or a Keras `LearningRateSchedule`."""
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return learning_rate
    try:
        valid = not isinstance(learning_rate, bool) and 0 < float(learning_rate) < float("inf")
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise invalid_value("learning_rate", learning_rate, "a positive finite number (or a "
                            "keras.optimizers.schedules.LearningRateSchedule)",
                            "a rate of inf or NaN turns the first step's weights into NaN; "
                            "typical rates are 1e-4 to 1e-2")
    return learning_rate



def check_positive_int(name: str, value) -> int:
    """`value` as an int: it must be an integer >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise invalid_value(name, value, "a positive integer")
    return int(value)


def _is_real(value) -> bool:
    """Whether `value` is a Python or NumPy real number (a bool is not one)."""
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer,
                                                              np.floating))


def check_open_interval(name: str, value, low: float, high: float, expected: str) -> float:
    """`value` as a float: a real number strictly between `low` and `high` (so never NaN).

    `expected` says it in the message's words, e.g. "a number in (0, 1)".
    """
    if not _is_real(value) or not low < value < high:
        raise invalid_value(name, value, expected)
    return float(value)


def check_positive_number(name: str, value) -> float:
    """`value` as a float: it must be a finite number > 0."""
    return check_open_interval(name, value, 0.0, math.inf, "a positive finite number")


def check_fraction(name: str, value, example: str = "0.1") -> float:
    """`value` as a float: it must be a number in `[0, 1)` (not a bool)."""
    if not _is_real(value) or not 0 <= value < 1:
        raise invalid_value(name, value, f"a number in [0, 1), e.g. {example}")
    return float(value)


def class_count(y, y_pred) -> int | None:
    """`N` when `y_pred [..., N]` are class logits for labels `y [...]`, else None.

    That is when the predictions have one more axis than the targets (or the same number,
    the targets' last of size 1 and integer), with `N >= 2`: Keras's sparse categorical
    losses read them so.
    """
    ys, ps = tuple(y.shape), tuple(y_pred.shape)
    if not ps or ps[-1] is None or ps[-1] < 2:
        return None
    integer = "int" in _dtype_name(y)
    if len(ps) == len(ys) + 1 or (len(ps) == len(ys) and ys[-1:] == (1,) and integer):
        return int(ps[-1])
    return None


# -- run-time checks (values), in the graph ----------------------------------------------------


_RUNTIME_CHECKS = {"enabled": True}


@contextlib.contextmanager
def runtime_checks(enabled: bool):
    """Steps traced inside this context get the run-time value checks, or not.

    For measuring what the checks cost (`python -m benchmarks run speed_options -o
    checks=true`); a model traced without them takes NaN, out-of-range labels and bad masks
    silently. Static checks always run.
    """
    before = _RUNTIME_CHECKS["enabled"]
    _RUNTIME_CHECKS["enabled"] = bool(enabled)
    try:
        yield
    finally:
        _RUNTIME_CHECKS["enabled"] = before


def require(condition, *pieces):
    """Raise `InvalidValueError` with the text of `pieces` (strings and scalar tensors) when
    `condition` is false: at once when eager, else return the in-graph assertion."""
    if not _RUNTIME_CHECKS["enabled"]:
        return None
    if tf.executing_eagerly():
        if not bool(condition):
            raise InvalidValueError("".join(_text(p) for p in pieces))
        return None
    return tf.debugging.Assert(condition, [ASSERTION_START, *pieces, ASSERTION_END], summarize=8)


def after(checks, x):
    """`x`, computed only once every assertion of `checks` has passed."""
    checks = [c for c in checks if c is not None]
    if not checks:
        return x
    with tf.control_dependencies(checks):
        return tf.identity(x)


def checked_finite(x, field: str, owner: str, fix: str | None = None):
    """`x` (float) with an assertion that it holds no NaN or infinite value."""
    x = tf.convert_to_tensor(x)
    if not (x.dtype.is_floating or x.dtype == tf.bfloat16):
        return x
    finite = tf.math.is_finite(x)
    fix = fix or ("remove or replace them (np.isfinite finds them); Episodes built by l2l "
                  "tasks are checked when made")
    return after([require(tf.reduce_all(finite),
                          f"Received an invalid value for `{field}`: expected finite numbers. "
                          f"Received: {field} with ",
                          tf.reduce_sum(tf.cast(~finite, "int32")),
                          f" NaN or infinite values, given to {owner}. Fix: {fix}.")], x)


def checked_mask(mask, owner: str):
    """`support_mask` with assertions: values 0 or 1, and a 1 in every episode."""
    mask = tf.convert_to_tensor(mask)
    if mask.dtype == tf.bool:
        binary, counts = None, tf.reduce_sum(tf.cast(mask, "int32"), axis=1)
    else:
        binary = require(
            tf.reduce_all((mask == 0) | (mask == 1)),
            "Received an invalid value for `support_mask`: expected 0 (padding) or 1 (a real "
            "support example). Received: support_mask with values from ",
            tf.reduce_min(mask), " to ", tf.reduce_max(mask), f", given to {owner}. Fix: a "
            "mask marks examples, it does not weight them; drop or repeat examples instead.")
        counts = tf.reduce_sum(tf.cast(mask, "float32"), axis=1)
    nonempty = require(
        tf.reduce_all(counts > 0),
        "Received an invalid value for `support_mask`: expected at least one real support "
        "example (mask 1) in every episode. Received: support_mask all zero in ",
        tf.reduce_sum(tf.cast(counts <= 0, "int32")), f" episode(s), given to {owner}. Fix: "
        "every episode needs at least one real support example; an empty support set has "
        "nothing to learn from.")
    return after([binary, nonempty], mask)


def checked_inputs(inputs: dict, owner: str) -> dict:
    """`inputs` with run-time checks: finite float inputs, a valid support mask."""
    checked = {k: checked_finite(inputs[k], k, owner) for k in INPUT_KEYS if k != SUPPORT_MASK}
    checked[SUPPORT_MASK] = checked_mask(inputs[SUPPORT_MASK], owner)
    return checked


def checked_episode(inputs, example_shape: tuple | None, owner: str,
                    fields: tuple[str, ...] = (SUPPORT_X, QUERY_X)) -> dict:
    """An episode's inputs as tensors after the checks every l2l model runs on them.

    The keys, dtypes and shapes (`check_episode_inputs`, static), finite values and a valid
    support mask (`checked_inputs`, in-graph), and the examples of each of `fields` against
    the `example_shape` the model was built for (`checked_example_shape`; None before it is
    built). `owner` names the model in messages, e.g. "this MetaModel".
    """
    check_episode_inputs(inputs, owner)
    inputs = checked_inputs(inputs, owner)
    for field in fields:
        inputs[field] = checked_example_shape(example_shape, inputs[field], owner, field)
    return inputs


def checked_labels(labels, ways: int, field: str, owner: str = "the model"):
    """`labels` with assertions that every class label lies in `0..ways-1`.

    `ways` is the number of classes the model was built for (its `ways`, or the size of its
    logits). A label of `ways` or more asks the model for more classes than it has.
    """
    labels = tf.convert_to_tensor(labels)
    if labels.dtype == tf.bool:  # False/True: classes 0 and 1
        labels = tf.cast(labels, "int32")
    low, high = tf.reduce_min(labels), tf.reduce_max(labels)
    start = (f"Received an invalid value for `{field}`: expected class labels in "
             f"0..{ways - 1}, since {owner} was built for ways={ways} classes per episode. "
             f"Received: {field} with labels from ")
    negative = require(low >= 0, start, low, " to ", high, ". Fix: class labels are indices "
                       f"0..{ways - 1} of each episode's classes; relabel them (e.g. "
                       "np.unique(labels, return_inverse=True)[1]).")
    too_many = require(
        high < ways, start, low, " to ", high, f": the model was asked for more classes than "
        f"it was built for. Fix: build the model with ways= at least the largest label plus "
        f"one, or give it episodes of at most {ways} classes.")
    checks = [negative, too_many]
    if labels.dtype.is_floating:
        checks.append(require(
            tf.reduce_all(labels == tf.round(labels)),
            f"Received an invalid value for `{field}`: expected class labels, whole numbers in "
            f"0..{ways - 1}. Received: {field} with fractional values. Fix: give class "
            "indices (integers), not probabilities or regression targets."))
    return after(checks, labels)


def checked_targets(y, y_pred, owner: str):
    """`query_y` with run-time checks: finite, and class labels in range for class logits."""
    y = checked_finite(y, "query_y", owner, "remove or replace the NaN or infinite targets "
                       "(np.isfinite finds them)")
    classes = class_count(y, y_pred)
    if classes is not None:
        y = checked_labels(y, classes, "query_y", owner)
    return y


def _dtype_name(x) -> str:
    if not hasattr(x, "dtype"):
        return type(x).__name__
    try:
        return keras.backend.standardize_dtype(x.dtype)
    except ValueError:
        return str(x.dtype)


def _text(piece) -> str:
    if isinstance(piece, str):
        return piece
    value = np.asarray(piece)
    return describe(value.item() if value.size == 1 else value)

"""The errors l2l raises on purpose, and the one style their messages follow.

Every error l2l raises because of what a caller gave it derives from `L2LError`, and also from
the built-in class a caller would expect (`ValueError`, `TypeError`, `FileNotFoundError`,
...), so `except ValueError` keeps working. Command-line entry points catch `L2LError` and
print its message without a traceback (see `l2l.cli`).

Messages follow Keras's style: what was wrong, what was expected, what was received, and how
to fix it, built by `invalid_value`:

>>> from l2l.errors import invalid_value
>>> print(invalid_value("ways", 1, "an integer >= 2"))
Received an invalid value for `ways`: expected an integer >= 2. Received: ways=1.
>>> isinstance(invalid_value("ways", 1, "an integer >= 2"), ValueError)
True
"""

from __future__ import annotations

from l2l import keras_compat


@keras_compat.shown_as_raised
class L2LError(Exception):
    """Base class of every error l2l raises on purpose (bad input, missing data, ...).

    Keras shows it as raised, even from inside a layer's `call`: the message already names
    the field and the fix (`l2l.keras_compat.shown_as_raised`).
    """


class InvalidValueError(L2LError, ValueError):
    """An argument or an input tensor has a value l2l cannot use."""


class InvalidTypeError(L2LError, TypeError):
    """An argument has a type l2l cannot use."""


class NonFiniteLossError(L2LError, FloatingPointError):
    """Training produced a NaN or infinite loss and was stopped at that step."""


def describe(value: object, limit: int = 80) -> str:
    """`repr(value)`, shortened to `limit` characters (arrays print their shape and dtype)."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None and len(shape) > 0:
        return f"<{type(value).__name__} shape={tuple(shape)} dtype={dtype}>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def invalid_value(name: str, received: object, expected: str, fix: str | None = None,
                  error: type[L2LError] = InvalidValueError) -> L2LError:
    """The error for argument or field `name`: `raise invalid_value(...)`.

    Args:
        name: the argument, option or episode field that was wrong.
        received: the value received (arrays are described by shape and dtype).
        expected: what would have been valid, as a phrase ("an integer >= 2").
        fix: what the caller should do, as a phrase, when it is not obvious.
        error: the class to raise, `InvalidValueError` unless a more precise one fits.
    """
    text = (f"Received an invalid value for `{name}`: expected {expected}. "
            f"Received: {name}={describe(received)}.")
    if fix:
        text += f" Fix: {fix}."
    return error(text)

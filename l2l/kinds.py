"""The registry of model kinds: a name -> how to build a learner/predictor pairing per task.

A *kind* is a learner/predictor pairing with a name (`"protonet"`, `"attention"`, ...). Every
kind is registered here, l2l's own ones (in `l2l.presets`) and a user's alike, so
`l2l.presets.classification_model(kind, ways)`, `regression_model(kind)`,
`two_digit_model(kind)` and the benchmarks (`-o methods=mykind`, `-o kinds=mykind`) build a
user's learner without any edit to l2l.

A builder takes the `KindSettings` of the call and returns `(learner, predictor)`, or
`(learner, predictor, encoder)` to choose the model's shared per-example encoder itself. For
classification, that encoder is otherwise `settings.encoder`, made by `classification_model`
before the builder runs (the caller's, or a conv net for images); a kind registered with
`shared_encoder=False` gets the caller's encoder or None there, and places
`settings.image_encoder(...)` where it wants it (FiLM puts it in its learner). A kind also
says what it is trained with where the task's usual choice is not its best: `ModelKind.model`
puts the pairing in the task's model class, `learning_rate_for` and `loss_for` give its
Adam rate and loss (`"sequence"` regression: a `CausalMetaModel` at Adam 1e-2):

>>> from l2l import kinds
>>> from l2l.learners import PooledLearner
>>> from l2l.predictors import ConditionedPredictor
>>> def build(settings):
...     return (PooledLearner(code_dim=settings.width, ways=settings.ways),
...             ConditionedPredictor(units=settings.hidden, output_units=settings.outputs))
>>> _ = kinds.register_kind("my_pooled", classification=build, regression=build,
...                         summary=("`PooledLearner` -> `ConditionedPredictor`", "example"))
>>> "my_pooled" in kinds.names("classification")
True
>>> from l2l.presets import classification_model
>>> classification_model("my_pooled", ways=3).name
'my_pooled_3way'
>>> kinds.unregister_kind("my_pooled")
>>> kinds.get_kind("sequence").learning_rate_for("regression")
0.01
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from l2l.errors import invalid_value

TASKS = ("classification", "regression", "two_digit")
"""What a kind can build a model for: N-way classification, regression, the two-digit task."""

DEFAULT_LEARNING_RATE = 1e-3
"""Adam's rate for a kind that registers no rate of its own (for the task)."""

SEQUENCE_REGRESSION_RATE = 1e-2
"""Adam's rate for `"sequence"` regression: in `benchmarks/sequence_ablation` it beat 3e-3
(MSE 0.055 vs 0.075 at k=35 on quadratics after 2,000 updates) with the kind's other parts."""

SEQUENCE_LEARNING_RATE = 3e-3
"""Adam's rate for `"sequence_pairs"`: at 1e-3 every LSTM configuration of the ablation in
`examples/sequence_ablation.py` stalls at the affine fit of a quadratic."""


@dataclasses.dataclass(frozen=True)
class KindSettings:
    """What a builder is asked for: sizes, outputs and (classification) the encoder.

    Attributes:
        task: one of `TASKS`.
        width: hidden size of every network (codes, attention, LSTM, hidden layers).
        depth: hidden layers of every MLP, attention blocks, FiLM blocks.
        outputs: outputs per query: `ways` for classification, the target size for
            regression, 1 for the two-digit task.
        ways: classes per episode (classification), else None.
        encoder: the model's shared per-example encoder (classification); for a kind
            registered with `shared_encoder=False`, the caller's encoder or None; for the
            two-digit task, the caller's per-digit encoder or None (the kind's default).
        input_scale: scale of raw inputs in default encoders (1/255 for uint8 pixels).
    """

    task: str
    width: int = 64
    depth: int = 1
    outputs: int = 1
    ways: int | None = None
    encoder: object = None
    input_scale: float = 1 / 255

    def __post_init__(self):
        depth = self.depth
        if isinstance(depth, bool) or int(depth) != depth or depth < 1:
            raise invalid_value("depth", depth, "an integer >= 1")
        object.__setattr__(self, "depth", int(depth))

    @property
    def hidden(self) -> tuple[int, ...]:
        """`depth` hidden layers of `2 * width` units, the MLP shape every kind uses."""
        return (2 * self.width,) * self.depth

    def image_encoder(self, filters: tuple[int, ...] = (32, 32, 32)):
        """`encoder` if the caller gave one, else a `conv_encoder(filters)` of `width` units."""
        if self.encoder is not None:
            return self.encoder
        from l2l.networks import conv_encoder

        return conv_encoder(filters, units=self.width, input_scale=self.input_scale)


Builder = Callable[[KindSettings], tuple]


@dataclasses.dataclass(frozen=True)
class ModelKind:
    """A registered kind: its builders by task, and the row it gets in the table of kinds."""

    name: str
    builders: dict[str, Builder]
    summary: tuple[str, str] = ("", "")
    shared_encoder: bool = True
    loss: Callable[[KindSettings], object] | None = None
    learning_rate: float | dict[str, float] | None = None
    models: dict[str, Callable] = dataclasses.field(default_factory=dict)

    def build(self, settings: KindSettings) -> tuple:
        """`(learner, predictor, encoder)` for `settings.task` (see the module docstring)."""
        built = tuple(self.builders[settings.task](settings))
        if len(built) not in (2, 3):
            raise invalid_value(f"{self.name} builder output", built,
                                "(learner, predictor) or (learner, predictor, encoder)")
        return built if len(built) == 3 else (*built, settings.encoder)

    def model(self, settings: KindSettings, **kwargs):
        """The kind's learner, predictor and encoder for `settings`, in the model class of
        `settings.task` (`models`, else `l2l.models.MetaModel`); `kwargs` (`name`) go to it."""
        from l2l.models import MetaModel

        learner, predictor, encoder = self.build(settings)
        model_class = self.models.get(settings.task, MetaModel)
        return model_class(learner, predictor, encoder=encoder, **kwargs)

    def learning_rate_for(self, task: str, learning_rate: float | None = None) -> float:
        """`learning_rate` if given, else the kind's own rate for `task`, else
        `DEFAULT_LEARNING_RATE`."""
        if learning_rate is not None:
            return learning_rate
        rate = self.learning_rate
        if isinstance(rate, dict):
            rate = rate.get(task)
        return rate if rate is not None else DEFAULT_LEARNING_RATE

    def loss_for(self, settings: KindSettings, default=None):
        """The kind's own loss for `settings` (`loss(settings)`), else `default`."""
        return self.loss(settings) if self.loss else default


_KINDS: dict[str, ModelKind] = {}


def _load_builtin_kinds() -> None:
    import l2l.presets  # noqa: F401  (registers l2l's own kinds)


def register_kind(name: str, *, classification: Builder | None = None,
                  regression: Builder | None = None, two_digit: Builder | None = None,
                  summary: tuple[str, str] = ("", ""), shared_encoder: bool = True,
                  loss: Callable[[KindSettings], object] | None = None,
                  learning_rate: float | dict[str, float] | None = None,
                  models: dict[str, Callable] | None = None,
                  replace: bool = False) -> ModelKind:
    """Register the kind `name`: a builder per task it supports (at least one).

    Args:
        name: the name `classification_model(name, ...)` and the benchmarks accept.
        classification, regression, two_digit: `builder(settings) -> (learner, predictor)`,
            for the tasks the kind supports.
        summary: `(pairing, idea)`, its row in `table()` (e.g. `("`MyLearner` ->
            `GeneratedDensePredictor`", "one line on the idea")`).
        shared_encoder: for classification, whether the model has a shared per-example
            encoder (`settings.encoder`); `False` when the kind places the encoder itself.
        loss: `loss(settings) -> keras loss` for a kind trained on a loss of its own (the
            memory module's margin loss); None: the task's usual loss (cross-entropy, MSE).
        learning_rate: the kind's default Adam learning rate, when `1e-3` is not its best;
            a dict gives it by task (`{"regression": 1e-2}`; other tasks keep 1e-3).
        models: the model class by task where it is not `l2l.models.MetaModel`, called as
            `cls(learner, predictor, encoder=..., name=...)` (e.g. `{"regression":
            CausalMetaModel}`).
        replace: allow replacing a registered kind of that name (otherwise an error, so two
            kinds never silently share a name).
    """
    builders = {task: b for task, b in zip(TASKS, (classification, regression, two_digit),
                                           strict=True) if b is not None}
    if not isinstance(name, str) or not name.isidentifier():
        raise invalid_value("name", name, "a Python identifier (it is used in model names "
                            "and on command lines)")
    if not builders:
        raise invalid_value("builders", None, f"at least one of {', '.join(TASKS)}",
                            "pass the builder of each task the kind supports")
    if name in _KINDS and not replace:
        raise invalid_value("name", name, f"a name not registered yet (registered: "
                            f"{sorted(_KINDS)})", "pick another name or pass replace=True")
    unknown = sorted(set(models or {}) - set(builders))
    if unknown:
        raise invalid_value("models", sorted(models), f"tasks the kind builds ({list(builders)})")
    kind = ModelKind(name, builders, tuple(summary), bool(shared_encoder), loss, learning_rate,
                     dict(models or {}))
    _KINDS[name] = kind
    return kind


def unregister_kind(name: str) -> None:
    """Remove the kind `name` (a test's, say); l2l's own kinds can be removed too."""
    get_kind(name)
    del _KINDS[name]


def names(task: str | None = None) -> tuple[str, ...]:
    """The registered kinds (that support `task`), in registration order."""
    if task is not None and task not in TASKS:
        raise invalid_value("task", task, f"one of {TASKS}")
    _load_builtin_kinds()
    return tuple(n for n, k in _KINDS.items() if task is None or task in k.builders)


def get_kind(name: str, task: str | None = None) -> ModelKind:
    """The kind `name`, checking that it supports `task`; errors list the valid names."""
    _load_builtin_kinds()
    kind = _KINDS.get(name)
    if kind is None or (task is not None and task not in kind.builders):
        what = f"a {task} model kind" if task else "a registered model kind"
        raise invalid_value("kind", name, f"{what}; choose one of {names(task)}",
                            "register your own with l2l.presets.register_kind")
    return kind


def table(task: str | None = None) -> str:
    """The Markdown table of the registered kinds: name, pairing, idea, tasks.

    The table in `l2l.presets` and `docs/extending.md` is this function's output.
    """
    lines = ["| kind | learner -> predictor | idea | tasks |", "| --- | --- | --- | --- |"]
    for name in names(task):
        kind = _KINDS[name]
        pairing, idea = kind.summary
        lines.append(f"| `{name}` | {pairing} | {idea} | {', '.join(kind.builders)} |")
    return "\n".join(lines)


if __name__ == "__main__":  # `python -m l2l.kinds`: the registry lives in the imported module
    from l2l.kinds import table as _registered_table

    print(_registered_table())

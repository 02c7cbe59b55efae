"""Learned-scale priors on sinusoids: why the quartic prior fails, and what makes it work.

`l2l.algorithms.ScaleAwareMAML` learns a scale `s` per parameter around MAML's mean `m`. The
sinusoid benchmark's `scale_quartic` (quartic prior `w (((phi - m) / s)^2 - 1)^2`, `w = 1 / n`
for `n` shots, scaled rates, 2 inner steps, `s` from 0.1) lost to plain MAML there and diverged
on some tasks at 10 steps. The reason is the inner step, in units `u = (phi - m) / s`: with
scaled rates one SGD step of the prior alone maps `u -> u - c (u^3 - u)`, `c = 4 w lr / s_0^2`
whatever `s` has become (`s_0 = init_scale`). From `s_0 = 0.1` at `lr = 0.01`, `c = 4 / n`:

- the mean (`u = 0`) is the prior's maximum: a moved parameter is pushed further, by `1 + c`
  per step (5x for a one-shot task), the same for parameters the task needs and for those it
  does not; the minima lie on the shell `|u| = 1` (`|phi - m| = s = 1 / sqrt(a)`): the prior
  asks every parameter to move by exactly its scale, in the direction of its first step;
- at the minimum the step multiplies the error by `1 - 2c`: unstable (`|1 - 2c| > 1`) for
  `n <= 4` shots, a quarter or so of the ragged 1-20-shot training tasks;
- beyond `|u| = sqrt(1 + 2 / c)` (1.87 at 5 shots) the cubic term overshoots and grows without
  bound: the divergences at 10 steps.

`init_scale="stable"` (`l2l.algorithms.priors.stable_scale`) starts `s` at `sqrt(8 lr w_max)`
(0.283), where `c = 1/2` for a one-shot task: a Newton step at the minimum, a threshold of
`sqrt(5)` scales there and `sqrt(1 + 20 n)` at `n` shots. For the quadratic the same rule
gives the default 0.1, so the quadratic is unchanged. `prior_warmup` (the prior's weight from
0 to `w` over the first half of training) and `learn_prior_weight` (a meta-learned factor of
`w`) are measured on the original initialisation; `scale_rates` (the scale as learning rates
only, no prior) is the control that tells what the prior adds.

Every method trains `updates` meta-updates of 25 ragged 1-20-shot tasks (as `sinusoid`), Adam
1e-3 cosine-decayed to zero over the updates (an equal number of updates for every method, so
the shared machine's load changes only the seconds), XLA. It is scored on the sinusoid
benchmark's stored test tasks (`sinusoid-{k}shot-q50`, 1,000 per shot count) with 1 inner step,
its own loop and `test_steps` (10) steps; a row is the mean MSE over non-diverged tasks with
its 95% interval and the number of diverged tasks (as `sinusoid.score`). The diagnosis
(`settings["diagnosis"]`, drawn in the picture) is measured on the first
`diagnosis_episodes` 5-shot tasks: quantiles per layer of the learned scales, of the movement
`|phi - m|` and of the scaled movement `|phi - m| / s`, after the own loop and after 10 steps
(over non-diverged tasks).

Budget (default, 2 shared CPU cores): 7 methods x 4,000 updates (about 15-45 s each, by load)
plus compilation and scoring: about 6-8 minutes. Not done: several seeds (one seed per run),
the time-budgeted protocol of `sinusoid` (the committed sinusoid run still shows the old
quartic).
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import PeakRSS, progress, row, stored_episodes, train_and_evaluate

SCALED = {"prior": None, "scaled_rates": True}
VARIANTS: dict[str, tuple[str, dict]] = {
    "maml": ("MAML", {"inner_steps": 1}),
    "scale_rates": ("ScaleAwareMAML", {"inner_steps": 1, **SCALED}),
    "quadratic": ("ScaleAwareMAML", {"inner_steps": 2, **SCALED, "prior": "quadratic"}),
    "quartic": ("ScaleAwareMAML", {"inner_steps": 2, **SCALED, "prior": "quartic"}),
    "quartic_warmup": ("ScaleAwareMAML", {"inner_steps": 2, **SCALED, "prior": "quartic",
                                          "prior_warmup": "half"}),
    "quartic_learned_weight": ("ScaleAwareMAML", {"inner_steps": 2, **SCALED,
                                                  "prior": "quartic",
                                                  "learn_prior_weight": True}),
    "quartic_stable": ("ScaleAwareMAML", {"inner_steps": 2, **SCALED, "prior": "quartic",
                                          "init_scale": "stable"}),
    "quartic_stable_learned_weight": ("ScaleAwareMAML", {
        "inner_steps": 2, **SCALED, "prior": "quartic", "init_scale": "stable",
        "learn_prior_weight": True}),
}
"""Method name -> (class of `l2l.algorithms`, options); `prior_warmup="half"` is half the
run's `updates`. `quartic` is the sinusoid benchmark's `scale_quartic`."""

DEFAULT_METHODS = ("maml", "scale_rates", "quadratic", "quartic", "quartic_warmup",
                   "quartic_learned_weight", "quartic_stable")
PICTURED = ("maml", "quadratic", "quartic", "quartic_stable")
"""The methods whose scales and movements the picture draws (when run)."""
LOOP_COLORS = ("#c8c8c8", "#8c8c8c", "#404040")
"""Bar colours of the 1-step, own and `test_steps` loops."""
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
"""Quantiles kept per layer: the whiskers, box and median of the picture's box plots."""


def run(quick: bool = False, seed: int = 0, *, methods: tuple[str, ...] | None = None,
        shots: tuple[int, ...] = (5, 10), updates: int | None = None,
        test_episodes: int | None = None, diagnosis_episodes: int | None = None,
        test_steps: int = 10, inner_learning_rate: float = 0.01) -> dict:
    """Train each variant for `updates` meta-updates, score three inner loops, diagnose."""
    import keras

    from benchmarks import sinusoid
    from l2l.errors import invalid_value
    from l2l.tasks import SinusoidTask

    methods = methods or (("maml", "quartic_stable") if quick else DEFAULT_METHODS)
    unknown = [m for m in methods if m not in VARIANTS]
    if unknown:
        raise invalid_value("methods", unknown, f"names from {sorted(VARIANTS)}")
    updates = updates or (20 if quick else 4000)
    n_test = test_episodes or (20 if quick else 1000)
    n_diagnosis = min(diagnosis_episodes or (10 if quick else 200), n_test)
    tests = {k: stored_episodes(SinusoidTask(shots=k, queries=50), f"sinusoid-{k}shot-q50",
                                n_test, "test") for k in shots}
    train = SinusoidTask(shots=(1, 20), queries=10)
    rows, diagnosis = [], {}
    progress.plan(len(methods))
    for name in methods:
        progress.cell(name)
        cls, options = VARIANTS[name]
        if options.get("prior_warmup") == "half":
            options = {**options, "prior_warmup": max(1, updates // 2)}
        keras.utils.set_random_seed(seed)
        schedule = keras.optimizers.schedules.CosineDecay(1e-3, updates)
        with PeakRSS() as memory:
            model = sinusoid.algorithm(cls, **options).build(
                inner_learning_rate=inner_learning_rate, meta_learning_rate=schedule,
                xla=not quick, seed=seed)
            epoch = min(100, updates)
            out = train_and_evaluate(model, train.dataset(4 if quick else 25, seed=seed), None,
                                     minutes=60.0, steps_per_epoch=epoch,
                                     max_epochs=updates // epoch, metric="mse")
            loops = sorted({1, model.inner_steps, test_steps})
            for steps in loops:
                scorer = model.with_options(test_steps=steps)
                for k in shots:
                    scored = sinusoid.score(scorer, tests[k])
                    if scored["mean"] is None:
                        continue  # every task diverged: the picture and notes say so
                    rows.append(row(
                        name, "mse", scored["mean"], ci95=scored["ci95"],
                        episodes=scored["episodes"], memory=memory, seed=seed,
                        train_seconds=out["train_seconds"],
                        settings={"shots": k, "test_steps": steps, "own_steps": model.inner_steps},
                        updates=out["steps"], episodes_scored=scored["episodes_scored"],
                        diverged_episodes=scored["diverged_episodes"],
                        options={k: v for k, v in options.items() if k != "inner_steps"}))
            diagnosis[name] = diagnose(model, tests[min(shots)][:n_diagnosis],
                                       (model.inner_steps, test_steps))
        keras.backend.clear_session()
    settings = {"methods": methods, "shots": shots, "updates": updates,
                "train_shots": [1, 20], "meta_batch_size": 4 if quick else 25,
                "meta_optimizer": "Adam(1e-3), cosine decay to 0 over the updates",
                "inner_learning_rate": inner_learning_rate, "test_episodes": n_test,
                "test_steps": test_steps, "diagnosis_episodes": n_diagnosis,
                "diagnosis_shots": min(shots), "quantiles": QUANTILES,
                "diagnosis": diagnosis}
    return {"rows": rows, "settings": settings,
            "notes": notes(rows, diagnosis, inner_learning_rate)}


def diagnose(model, episodes, loops: tuple[int, ...]) -> dict:
    """Per layer (variable path): quantiles of the scales `s` (if the model has them), and of
    `|phi - m|` and `|phi - m| / s` over `episodes` after each inner loop length in `loops`
    (tasks whose adapted parameters are not all finite are left out and counted)."""
    import keras

    variables = model.model.trainable_variables
    names = [v.path for v in variables]
    means = [keras.ops.convert_to_numpy(v) for v in variables]
    scales = model.scales() if hasattr(model, "scales") else None
    out = {"layers": names,
           "scales": None if scales is None else [_quantiles(s) for s in scales]}
    if getattr(model, "learn_prior_weight", False):
        out["prior_gain"] = float(np.exp(keras.ops.convert_to_numpy(model.log_prior_gain)))
    if getattr(model, "prior_warmup", None) is not None:
        out["prior_ramp"] = float(keras.ops.convert_to_numpy(model.prior_ramp))
    for steps in loops:
        params = [np.asarray(p) for p in model.with_options(test_steps=steps).adapt(
            episodes.inputs()).params]
        finite = np.all([np.isfinite(p.reshape(len(p), -1)).all(axis=1) for p in params], axis=0)
        moved = [np.abs(p[finite] - m) for p, m in zip(params, means, strict=True)]
        entry = {"non_finite_episodes": int((~finite).sum()),
                 "movement": [_quantiles(d) for d in moved]}
        if scales is not None and finite.any():
            scaled = [d / s for d, s in zip(moved, scales, strict=True)]
            entry["scaled_movement"] = [_quantiles(z) for z in scaled]
            entry["beyond_scale"] = float(np.mean(np.concatenate([z.ravel() for z in scaled])
                                                  > 1.0))
        out[f"steps_{steps}"] = entry
    return out


def _quantiles(values) -> list[float] | None:
    values = np.asarray(values, dtype=float).ravel()
    return [float(q) for q in np.quantile(values, QUANTILES)] if values.size else None


def quartic_step(weight: float, inner_learning_rate: float, init_scale: float) -> dict:
    """The quartic's inner step with scaled rates, in units of the scale: `c = 4 w lr /
    s_0^2`, the factor on a small move from the mean (`1 + c`), on the error at the minimum
    (`1 - 2c`), and the distance beyond which it diverges (`sqrt(1 + 2 / c)` scales).

    >>> {k: round(v, 2) for k, v in quartic_step(1 / 5, 0.01, 0.1).items()}
    {'c': 0.8, 'from_mean': 1.8, 'at_minimum': -0.6, 'diverges_beyond': 1.87}
    """
    c = 4 * weight * inner_learning_rate / init_scale ** 2
    return {"c": c, "from_mean": 1 + c, "at_minimum": 1 - 2 * c,
            "diverges_beyond": float(np.sqrt(1 + 2 / c))}


def notes(rows: list[dict], diagnosis: dict, inner_learning_rate: float) -> list[str]:
    """The stability of the quartic's step at both initialisations, what each method scored
    at 5 shots against MAML, and what the diagnosis found."""
    from l2l.algorithms.priors import stable_scale

    out = []
    for label, s0 in (("init_scale 0.1", 0.1),
                      ("init_scale 'stable'", stable_scale("quartic", inner_learning_rate))):
        steps = {n: quartic_step(1 / n, inner_learning_rate, s0) for n in (1, 5)}
        out.append(f"Quartic step with scaled rates, {label} (s_0 = {s0:.3f}): one-shot task: "
                   f"x{steps[1]['from_mean']:.2f} from the mean, x{steps[1]['at_minimum']:.2f} "
                   f"at the minimum, diverges beyond {steps[1]['diverges_beyond']:.2f} scales; "
                   f"5 shots: x{steps[5]['from_mean']:.2f}, x{steps[5]['at_minimum']:.2f}, "
                   f"beyond {steps[5]['diverges_beyond']:.2f} scales.")
    by = {(r["method"], r["settings"]["shots"], r["settings"]["test_steps"]): r for r in rows}
    shots = sorted({r["settings"]["shots"] for r in rows})
    maml = {k: by.get(("maml", k, 1)) for k in shots}
    for name in dict.fromkeys(r["method"] for r in rows):
        own = next(r["settings"]["own_steps"] for r in rows if r["method"] == name)
        parts = []
        for k in shots:
            r, ten = by.get((name, k, own)), by.get((name, k, max(
                s for (m, kk, s) in by if m == name and kk == k)))
            if r is None:
                parts.append(f"{k} shots: every task diverged")
                continue
            text = f"{k} shots MSE {r['mean']:.3f} +- {r['ci95']:.3f}"
            if maml[k] is not None and name != "maml":
                text += f" ({_versus(r, maml[k])} MAML's {maml[k]['mean']:.3f})"
            if ten is not None and ten is not r:
                text += (f", {ten['settings']['test_steps']} steps {ten['mean']:.3f}, "
                         f"{ten['diverged_episodes']} diverged")
            parts.append(text)
        extra = diagnosis.get(name, {})
        learned = "".join(f", {key.replace('_', ' ')} {extra[key]:.3f}"
                          for key in ("prior_gain", "prior_ramp") if key in extra)
        out.append(f"{name} (own loop {own} step{'s' if own > 1 else ''}{learned}): "
                   + "; ".join(parts) + ".")
    for name, d in diagnosis.items():
        scaled = {steps: e.get("beyond_scale") for steps, e in d.items()
                  if steps.startswith("steps_") and e.get("beyond_scale") is not None}
        if scaled:
            out.append(f"{name}: share of parameters moved more than their scale (past the "
                       "quartic's minimum), 5-shot tasks: " + ", ".join(
                           f"{v:.1%} after {k.split('_')[1]} steps" for k, v in scaled.items())
                       + ".")
    return out


def _versus(r: dict, baseline: dict) -> str:
    """"better than", "worse than" or "level with": whether the two 95% intervals separate."""
    if r["mean"] + r["ci95"] < baseline["mean"] - baseline["ci95"]:
        return "better than"
    if r["mean"] - r["ci95"] > baseline["mean"] + baseline["ci95"]:
        return "worse than"
    return "level with"


def plot(result: dict):
    """MSE per method and loop (with diverged counts), then the diagnosis: learned scales,
    movement from the mean and movement in scales, per layer."""
    import matplotlib.pyplot as plt

    rows, settings = result["rows"], result["settings"]
    diagnosis = settings["diagnosis"]
    k = settings["diagnosis_shots"]
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    ax = axes[0, 0]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    loops = sorted({r["settings"]["test_steps"] for r in rows})
    width, labelled = 0.8 / len(loops), set()
    for j, name in enumerate(methods):
        own = next(r["settings"]["own_steps"] for r in rows if r["method"] == name)
        for i, steps in enumerate(loops):
            if steps not in (1, own, settings["test_steps"]):
                continue  # not a loop this method was scored with
            r = next((r for r in rows if r["method"] == name and r["settings"]["shots"] == k
                      and r["settings"]["test_steps"] == steps), None)
            x = j - 0.4 + width * (i + 0.5)
            if r is None:
                ax.text(x, 1, "all diverged", ha="center", fontsize=6, rotation=90)
                continue
            ax.bar(x, r["mean"], width, yerr=r["ci95"], capsize=2, color=LOOP_COLORS[i],
                   label=None if steps in labelled else
                   f"{steps} inner step{'s' if steps > 1 else ''}")
            labelled.add(steps)
            if r["diverged_episodes"]:
                ax.text(x, r["mean"] * 1.15, f"{r['diverged_episodes']} div.", ha="center",
                        fontsize=6, rotation=90)
    maml = next((r for r in rows if r["method"] == "maml" and r["settings"]["shots"] == k
                 and r["settings"]["test_steps"] == 1), None)
    if maml:
        ax.axhline(maml["mean"], color="C3", ls="--", lw=0.8, label="MAML, 1 step")
    ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel(f"{k}-shot test MSE ({settings['test_episodes']:,} tasks; mean over "
                  "non-diverged)", fontsize=8)
    ax.set_title(f"{settings['updates']:,} meta-updates per method; 'div.': diverged tasks",
                 fontsize=9)
    ax.legend(fontsize=7)
    pictured = [m for m in PICTURED if m in diagnosis]
    _layer_boxes(axes[0, 1], {m: diagnosis[m]["scales"] for m in pictured},
                 "learned scale s (init 0.1; quartic_stable 0.283)")
    own = {m: f"steps_{next(r['settings']['own_steps'] for r in rows if r['method'] == m)}"
           for m in pictured if any(r["method"] == m for r in rows)}
    _layer_boxes(axes[1, 0], {m: diagnosis[m][own[m]]["movement"] for m in own},
                 f"|phi - m| after the own loop ({k} shots)")
    ten = f"steps_{settings['test_steps']}"
    _layer_boxes(axes[1, 1], {m: diagnosis[m][ten].get("scaled_movement") for m in pictured},
                 f"|phi - m| / s after {settings['test_steps']} steps ({k} shots)")
    axes[1, 1].axhline(1.0, color="k", lw=0.8, ls=":", label="quartic's minimum, |phi-m| = s")
    axes[1, 1].legend(fontsize=7, loc="lower left")
    layers = next((d["layers"] for d in diagnosis.values()), [])
    for ax in (axes[0, 1], axes[1, 0], axes[1, 1]):
        ax.set_xticks(range(len(layers)), [n.split("/", 1)[-1] for n in layers], fontsize=7,
                      rotation=20)
    fig.suptitle("Learned-scale priors on sinusoids (boxes: 5-95% whiskers, quartiles, median "
                 "over parameters and tasks)", fontsize=10)
    fig.tight_layout()
    return fig


def _layer_boxes(ax, values: dict, ylabel: str) -> None:
    """Box plots of stored quantiles (`values`: method -> per-layer quantiles, or None): one
    group per layer, one box per method, coloured by its place in `PICTURED`."""
    shown = {m: v for m, v in values.items() if v is not None}
    for i, (name, per_layer) in enumerate(shown.items()):
        stats = [{"whislo": q[0], "q1": q[1], "med": q[2], "q3": q[3], "whishi": q[4],
                  "label": ""} for q in per_layer if q is not None]
        positions = [j + (i - (len(shown) - 1) / 2) * 0.8 / len(shown)
                     for j, q in enumerate(per_layer) if q is not None]
        color = f"C{PICTURED.index(name)}"
        boxes = ax.bxp(stats, positions=positions, widths=0.7 / len(shown), showfliers=False,
                       patch_artist=True, manage_ticks=False,
                       medianprops={"color": "k"})
        for box in boxes["boxes"]:
            box.set_facecolor(color)
        ax.plot([], [], color=color, lw=6, label=name)
    ax.set_yscale("log")
    ax.set_ylabel(ylabel, fontsize=8)
    ax.legend(fontsize=7)


def summarize(result: dict) -> str:
    """A table: one line per method and inner loop, MSE per shot count, diverged tasks."""
    from benchmarks.readme import format_value

    rows = result["rows"]
    shots = list(dict.fromkeys(r["settings"]["shots"] for r in rows))
    lines = ["| method | options | inner steps | " + " | ".join(f"MSE {k}-shot" for k in shots)
             + " | diverged (" + " / ".join(f"{k}-shot" for k in shots) + ") | updates | "
             "train s |", "|---" * (len(shots) + 6) + "|"]
    keys = dict.fromkeys((r["method"], r["settings"]["test_steps"]) for r in rows)
    for name, steps in keys:
        by = {r["settings"]["shots"]: r for r in rows
              if r["method"] == name and r["settings"]["test_steps"] == steps}
        first = next(iter(by.values()))
        own = " (own)" if steps == first["settings"]["own_steps"] else ""
        options = ", ".join(f"{k}={v}" for k, v in first["options"].items()
                            if k not in ("scaled_rates",) and v is not None) or "-"
        cells = [format_value("mse", by[k]["mean"], by[k]["ci95"]) if k in by
                 else "all diverged" for k in shots]
        diverged = " / ".join(str(by[k]["diverged_episodes"]) if k in by else "all"
                              for k in shots)
        lines.append(f"| {name} | {options} | {steps}{own} | " + " | ".join(cells)
                     + f" | {diverged} | {first['updates']} | {first['train_seconds']:.0f} |")
    return "\n".join(lines)

"""Gradient-based meta-learners on Omniglot 5/20-way 1-shot (unseen alphabets), and their speed.

Accuracy: MAML (second order), FO-MAML, ANIL, Reptile and Meta-SGD wrapping MAML's conv4
(`benchmarks.gradient_speed.conv4`, `filters` channels), and ProtoNet (the amortised
reference: the same conv4 body as its encoder), each trained for the same wall-clock budget
(`minutes_per_method`, learning rate cosine-annealed to zero over it) on the alphabet-disjoint
split of `benchmarks.few_shot` (train alphabets with rotations as new classes), and scored on
the SAME stored test episodes as the `omniglot` benchmark (`few_shot.test_episodes_of`,
`few_shot-omniglot-<ways>way-1shot`, 5 queries per class). Gradient methods: one inner step at
0.4 in training, 3 at test (Reptile: 5 steps at 0.1, outer SGD(1.0) annealed), batch norm
transductive, meta-batch `meta_batch`, 1 query per class in training (Finn et al. 2017).

Speed (5-way, meta-batch 32, 64 filters, `benchmarks.gradient_speed`): seconds per meta-update
with XLA off and on, the pfor engine's seconds and the speedup, and a plain supervised step of
the same network over the same images, for the overhead ratio (target <= 3.5 on CPU).

Default: 2 way counts x 6 methods x 1.0 minute + scoring (1,000 episodes per cell) + about 6
minutes of timing. Measured: the 5-way half (`-o ways=5 -o speed=false`) took about 9 minutes
on a quiet 2-core CPU; the 20-way half (`-o ways=20 -o speed=false --tag 20way`) 22 minutes
at load ~4, where one minute buys MAML 18 meta-updates and ProtoNet 58 steps: its figures
show how little a minute is at 20 ways, not what the methods can do. Not done: hours of
training (papers train 40,000-60,000 meta-updates on a GPU), the full background set,
several seeds.
"""

from __future__ import annotations

from benchmarks import few_shot, gradient_speed
from benchmarks.common import PeakRSS, row, train_and_evaluate

METHODS = ("maml", "fomaml", "anil", "reptile", "meta_sgd", "protonet")
PUBLISHED = {("maml", 5): 0.987, ("maml", 20): 0.958, ("anil", 5): None,
             ("protonet", 5): 0.988, ("protonet", 20): 0.960}
"""Published Omniglot 1-shot accuracies (Finn et al. 2017 Table 1: MAML 98.7% 5-way, 95.8%
20-way; Snell et al. 2017: ProtoNet 98.8% / 96.0%), on character-disjoint splits of the full
background set after hours of GPU training. Raghu et al. 2020 (ANIL) report Omniglot 20-way
1-shot only with their own split (MAML 93.7%, ANIL 96.2% in their Table 2 rerun), so no 5-way
figure is quoted for ANIL."""
ANIL_PUBLISHED_20WAY = 0.962


def _model(method: str, ways: int, filters: int, meta_batch: int, xla: bool):
    import keras

    net = gradient_speed.conv4(ways, filters)
    if method == "protonet":
        from l2l.presets import classification_model

        encoder = keras.Sequential(net.layers[:-1], name="conv4_body")
        return classification_model("protonet", ways, encoder=encoder)
    if method == "reptile":
        return gradient_speed.algorithm("reptile", net, inner_learning_rate=0.1,
                                        inner_steps=5, jit_compile=xla)
    return gradient_speed.algorithm(method, net, test_steps=3, jit_compile=xla)


def run(quick: bool = False, seed: int = 0, *, ways: tuple[int, ...] | None = None,
        methods: tuple[str, ...] | None = None, minutes_per_method: float | None = None,
        meta_batch: int | None = None, filters: int | None = None,
        steps_per_epoch: int | None = None, test_episodes: int | None = None,
        xla: bool = True, speed: bool = True, data_dir: str | None = None) -> dict:
    """Train and score every (ways, method); then time the 5-way meta-update."""
    import keras

    from l2l.tasks import FewShotClassification

    ways = ways or ((5,) if quick else (5, 20))
    methods = methods or (("maml", "anil", "protonet") if quick else METHODS)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}; choose from {METHODS}.")
    minutes = minutes_per_method if minutes_per_method is not None else (
        0.02 if quick else 1.0)
    meta_batch = meta_batch or (2 if quick else 16)
    filters = filters or (8 if quick else 32)
    steps = steps_per_epoch or (2 if quick else 10)
    n_test = test_episodes or (20 if quick else 1000)
    data = few_shot.load("omniglot", data_dir)
    rows = []
    for n in ways:
        test = few_shot.test_episodes_of(data, "omniglot", n, 1, 5, n_test)
        train = FewShotClassification(data["train_x"], data["train_labels"], ways=n, shots=1,
                                      queries=1, classes=data["train"])
        for method in methods:
            keras.utils.set_random_seed(seed)
            with PeakRSS() as memory:
                model = _model(method, n, filters, meta_batch, xla)
                out = train_and_evaluate(model, train.dataset(meta_batch, seed=seed), test,
                                         minutes=minutes, steps_per_epoch=steps, anneal=True)
            keras.backend.clear_session()
            published = ANIL_PUBLISHED_20WAY if (method, n) == ("anil", 20) else PUBLISHED.get(
                (method, n))
            rows.append(row(method, "accuracy", out["mean"], ci95=out["ci95"],
                            episodes=out["episodes"], train_seconds=out["train_seconds"],
                            memory=memory, seed=seed,
                            settings={"dataset": "omniglot", "ways": n, "shots": 1},
                            steps=out["steps"], episodes_trained=out["steps"] * meta_batch,
                            chance=1.0 / n, published=published))
    notes = [f"One seed, {minutes:g} training minutes per method on a shared 2-core CPU "
             "(see load_1min per row); papers train for hours on a GPU, so these are "
             "short-budget figures. Training includes tracing and XLA compilation."]
    notes += _comparisons(rows)
    if speed:
        timed = gradient_speed.run(quick, seed, methods=tuple(m for m in methods
                                                                 if m != "protonet"))
        rows += timed["rows"]
        notes += timed["notes"]
        notes.append(f"pfor / batched speedup at XLA off: {gradient_speed.speedups(rows)}.")
    settings = {"ways": ways, "shots": 1, "methods": methods, "minutes_per_method": minutes,
                "meta_batch": meta_batch, "filters": filters, "steps_per_epoch": steps,
                "train_queries_per_class": 1, "eval_queries_per_class": 5,
                "test_episodes": n_test, "xla": xla, "inner": "1 step at 0.4 in training, 3 "
                "at test; reptile 5 steps at 0.1, outer SGD(1.0) annealed",
                "meta_optimizer": "Adam(1e-3), cosine to zero over the budget",
                "batch_norm": "transductive", "data": data["info"],
                "published": {f"{m} {n}-way": v for (m, n), v in PUBLISHED.items() if v}}
    return {"rows": rows, "settings": settings, "notes": notes}


def _comparisons(rows: list[dict]) -> list[str]:
    notes = []
    for n in dict.fromkeys(r["settings"]["ways"] for r in rows):
        by = {r["method"]: r for r in rows if r["settings"]["ways"] == n}
        if "protonet" not in by:
            continue
        proto = by["protonet"]["mean"]
        for m in ("maml", "anil"):
            if m in by:
                gap = 100 * (proto - by[m]["mean"])
                notes.append(f"{n}-way: {m} {100 * by[m]['mean']:.1f}% vs protonet "
                             f"{100 * proto:.1f}% at equal time: "
                             + ("within" if gap <= 5 else "NOT within")
                             + f" 5 points (gap {gap:+.1f}).")
    return notes


def plot(result: dict):
    """Accuracy per method and way count (95% CI), chance marked."""
    from benchmarks.common import accuracy_bars

    rows = [r for r in result["rows"] if r["metric"] == "accuracy"]
    return accuracy_bars(rows, lambda r: f"{r['settings']['ways']}-way 1-shot",
                         lambda r: r["method"], chance=None,
                         title=f"Omniglot, unseen alphabets, "
                               f"{result['settings']['minutes_per_method']:g} min per method "
                               f"({result['mode']} run)")


def summarize(result: dict) -> str:
    """Accuracy table (with published figures), then the speed table."""
    from benchmarks.readme import format_value

    rows = [r for r in result["rows"] if r["metric"] == "accuracy"]
    ways = list(dict.fromkeys(r["settings"]["ways"] for r in rows))
    lines = ["| method | " + " | ".join(f"{n}-way 1-shot" for n in ways)
             + " | published (papers) |", "|---" * (len(ways) + 2) + "|"]
    for m in dict.fromkeys(r["method"] for r in rows):
        by = {r["settings"]["ways"]: r for r in rows if r["method"] == m}
        quoted = ", ".join(f"{n}-way {100 * by[n]['published']:.1f}%" for n in ways
                           if n in by and by[n].get("published"))
        lines.append(f"| {m} | " + " | ".join(
            format_value("accuracy", by[n]["mean"], by[n]["ci95"]) if n in by else "-"
            for n in ways) + f" | {quoted or '-'} |")
    speed = [r for r in result["rows"] if r["metric"] != "accuracy"]
    if speed:
        lines += ["", gradient_speed.summarize({"rows": speed})]
    return "\n".join(lines)

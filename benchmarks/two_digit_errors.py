"""Two-digit errors: which digits and digit pairs a trained model gets wrong on unseen numbers.

Scores a two-digit model (a `.keras` file saved by `two_digit -o save_model=PATH`, or one
trained here for `minutes` with the same recipe options) on the stored test episodes of
`benchmarks/two_digit.py` (same names, so the very episodes that benchmark scores), recovers
the number shown in every support and query image by looking each digit tile up among the
MNIST images (`tile_numbers`), and breaks the errors down (`digit_errors`):

- per digit: the error rate over queries whose target or query number contains the digit;
- per digit pair: over "different" queries that differ from the target in one position only,
  the rate of answering "same" when that position shows digit a in one and b in the other
  (e.g. 67 against 77 counts for the pair 6-7): the confusions that limit transfer.

The picture shows both, and a gallery of failed episodes (support image, query, answer).

    python -m benchmarks run two_digit_errors -o model=runs/heldout.keras
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import row, stored_episodes


def tile_lookup(images: np.ndarray) -> dict[bytes, int]:
    """`{tile bytes: index}` of `[N, 28, 28]` uint8 images, to find a digit tile's source."""
    return {image.tobytes(): i for i, image in enumerate(np.asarray(images))}


def tile_numbers(x: np.ndarray, lookup: dict[bytes, int], labels: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """`(numbers, indices)` of two-digit images `x` (`[..., 28, 56, 1]` uint8).

    `indices[..., 0/1]` is the MNIST index of the left/right tile (-1 when not found, e.g. a
    masked support slot) and `numbers` is `10 * left + right` (-1 when either is unknown).
    """
    x = np.asarray(x)
    tiles = x[..., 0].reshape(*x.shape[:-3], 28, 2, 28).swapaxes(-3, -2)
    flat = tiles.reshape(-1, 28, 28)
    indices = np.array([lookup.get(t.tobytes(), -1) for t in flat]).reshape(*x.shape[:-3], 2)
    digits = np.where(indices >= 0, np.asarray(labels)[indices], -1)
    numbers = np.where((digits >= 0).all(-1), 10 * digits[..., 0] + digits[..., 1], -1)
    return numbers, indices


def digit_errors(targets: np.ndarray, queries: np.ndarray, correct: np.ndarray) -> dict:
    """Errors by digit and by confused digit pair.

    Args:
        targets: `[E]` the number of each episode (its support images).
        queries: `[E, Q]` the number each query shows.
        correct: `[E, Q]` whether the model answered the query right.

    Returns `{"digits": {d: [errors, queries]}, "pairs": {"a-b": [false_same, queries]},
    "numbers": {n: [false_different, queries]}, "same": [errors, queries],
    "different": [errors, queries]}`: `numbers` counts the "same" queries of each target
    number and how many of them were called different; a digit counts for a query
    when the target or the query number contains it; a pair `a-b` (a < b) counts for a
    "different" query that differs from its target in one position, a and b there.

    >>> out = digit_errors(np.array([67, 12]), np.array([[77, 67], [13, 12]]),
    ...                    np.array([[False, True], [True, True]]))
    >>> out["pairs"], out["digits"][6], out["same"], out["different"]
    ({'2-3': [0, 1], '6-7': [1, 1]}, [1, 2], [0, 2], [1, 2])
    """
    targets = np.broadcast_to(np.asarray(targets)[:, None], np.shape(queries))
    queries, wrong = np.asarray(queries), ~np.asarray(correct, bool)
    same = queries == targets
    digit_of = [targets // 10, targets % 10, queries // 10, queries % 10]
    digits = {}
    for d in range(10):
        involved = np.any([part == d for part in digit_of], axis=0)
        if involved.any():
            digits[d] = [int(wrong[involved].sum()), int(involved.sum())]
    pairs: dict[str, list[int]] = {}
    differs = [(targets // 10) != (queries // 10), (targets % 10) != (queries % 10)]
    one_place = ~same & (differs[0] ^ differs[1])
    for e, q in zip(*np.nonzero(one_place), strict=True):
        place = 0 if differs[0][e, q] else 1
        a, b = sorted((digit_of[place][e, q], digit_of[2 + place][e, q]))
        count = pairs.setdefault(f"{a}-{b}", [0, 0])
        count[0] += int(wrong[e, q])
        count[1] += 1
    numbers: dict[int, list[int]] = {}
    for t in np.unique(targets[same]):
        mine = same & (targets == t)
        numbers[int(t)] = [int(wrong[mine].sum()), int(mine.sum())]
    return {"digits": digits, "pairs": dict(sorted(pairs.items())), "numbers": numbers,
            "same": [int(wrong[same].sum()), int(same.sum())],
            "different": [int(wrong[~same].sum()), int((~same).sum())]}


def run(quick: bool = False, seed: int = 0, *, model: str | None = None,
        protocol: str = "heldout-digits", shots: int = 1, test_episodes: int | None = None,
        minutes: float | None = None, augment: tuple[float, ...] | None = None,
        weight_decay: float = 0.0, failures: int = 24, data_dir: str | None = None) -> dict:
    """Analyse `model` (or a `features` model trained here) on the stored test episodes."""
    import keras

    from benchmarks.common import train_and_evaluate
    from l2l.datasets import load_mnist
    from l2l.evaluation import mean_ci95
    from l2l.presets import two_digit_model
    from l2l.tasks.two_digit import TwoDigitTask, heldout_digits
    from l2l.training import load_model

    images, labels = load_mnist(data_dir)
    n_test = test_episodes or (100 if quick else 2000)
    test = stored_episodes(TwoDigitTask(images, labels, split="test", protocol=protocol,
                                        shots=shots, queries=2),
                           f"two_digit-{protocol}-{shots}shot", n_test, "test")
    trained = None
    if model is None:
        keras.utils.set_random_seed(seed)
        net = two_digit_model("features", weight_decay=weight_decay)
        train = TwoDigitTask(images, labels, split="train", protocol=protocol, shots=shots,
                             queries=8, augment=augment)
        trained = train_and_evaluate(net, train.dataset(8 if quick else 32, seed=seed), None,
                                     minutes=minutes or (0.05 if quick else 2.0),
                                     steps_per_epoch=5 if quick else 50, anneal=True)
    else:
        net = load_model(model)
    logits = np.asarray(net.predict(test.inputs(), batch_size=250, verbose=0))
    correct = (logits > 0) == (test.query_y > 0.5)
    lookup = tile_lookup(images)
    targets, support_tiles = tile_numbers(test.support_x[:, 0], lookup, labels)
    queries, query_tiles = tile_numbers(test.query_x, lookup, labels)
    if (targets < 0).any() or (queries < 0).any():
        raise ValueError("Some test images are not MNIST digit tiles: give the data_dir the "
                         "stored episodes were made from (or regenerate the episodes).")
    errors = digit_errors(targets, queries, correct)
    held = [int(d) for d in heldout_digits()] if protocol == "heldout-digits" else []
    accuracy, ci = mean_ci95(correct.mean(axis=1))
    settings = {"protocol": protocol, "shots": shots}
    name = "features" if model is None else "model"
    rows = [row(name, "accuracy", accuracy, ci95=ci, episodes=len(correct), seed=seed,
                settings=settings, same_errors=errors["same"],
                different_errors=errors["different"],
                failures=_failures(targets, queries, support_tiles, query_tiles, logits,
                                   correct, failures),
                **({"train_seconds": trained["train_seconds"], "steps": trained["steps"]}
                   if trained else {}))]
    for d, (wrong, n) in errors["digits"].items():
        rows.append(row(name, "digit_error", wrong / n, episodes=n, seed=seed,
                        settings={**settings, "digit": d, "heldout": d in held}))
    for number, (wrong, n) in errors["numbers"].items():
        rows.append(row(name, "number_false_different", wrong / n, episodes=n, seed=seed,
                        settings={**settings, "number": number}))
    for pair, (wrong, n) in errors["pairs"].items():
        rows.append(row(name, "pair_false_same", wrong / n, episodes=n, seed=seed,
                        settings={**settings, "pair": pair}))
    return {"rows": rows, "settings": {
        "model": model, "protocol": protocol, "shots": shots, "test_episodes": n_test,
        "heldout_digits": held, "minutes": None if trained is None else minutes,
        "augment": None if augment is None else list(augment), "weight_decay": weight_decay,
        "data": {"data_dir": data_dir}}}


def _failures(targets, queries, support_tiles, query_tiles, logits, correct, limit) -> list:
    """The first `limit` wrong answers, with the MNIST indices needed to draw them."""
    out = []
    for e, q in zip(*np.nonzero(~correct), strict=True):
        out.append({"episode": int(e), "target": int(targets[e]), "query": int(queries[e, q]),
                    "logit": round(float(logits[e, q]), 3),
                    "support_tiles": support_tiles[e].tolist(),
                    "query_tiles": query_tiles[e, q].tolist()})
        if len(out) == limit:
            break
    return out


def plot(result: dict):
    """Error per digit, the most confused digit pairs, and a gallery of failed episodes."""
    import matplotlib.pyplot as plt

    from l2l.datasets import load_mnist

    rows = result["rows"]
    digits = [r for r in rows if r["metric"] == "digit_error"]
    pairs = sorted((r for r in rows if r["metric"] == "pair_false_same"),
                   key=lambda r: -r["mean"])[:12]
    failed = rows[0].get("failures", [])
    columns = 8
    lines = max(1, -(-len(failed) // columns))
    fig = plt.figure(figsize=(14, 3.4 + 1.2 * lines))
    grid = fig.add_gridspec(1 + lines, columns, height_ratios=[3] + [1] * lines)
    left, right = fig.add_subplot(grid[0, :4]), fig.add_subplot(grid[0, 4:])
    left.bar([str(r["settings"]["digit"]) for r in digits], [100 * r["mean"] for r in digits],
             color=["C3" if r["settings"]["heldout"] else "C0" for r in digits])
    left.set_title("error (%) of queries involving each digit (red: never seen in training)",
                   fontsize=8)
    right.bar([r["settings"]["pair"] for r in pairs], [100 * r["mean"] for r in pairs])
    right.set_title("'same' answered for numbers differing in one digit pair (%), worst 12",
                    fontsize=8)
    for ax in (left, right):
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(labelsize=7)
    if failed:
        images, _ = load_mnist(result["settings"]["data"]["data_dir"])
        for i, f in enumerate(failed):
            ax = fig.add_subplot(grid[1 + i // columns, i % columns])
            support = np.concatenate([images[t] for t in f["support_tiles"]], axis=1)
            query = np.concatenate([images[t] for t in f["query_tiles"]], axis=1)
            ax.imshow(np.concatenate([support, np.full((4, 56), 128, np.uint8), query]),
                      cmap="gray")
            answer = "same" if f["logit"] > 0 else "different"
            ax.set_title(f"{f['target']:02d} vs {f['query']:02d}: '{answer}'", fontsize=7)
            ax.axis("off")
    s = result["settings"]
    fig.suptitle(f"two-digit errors, {s['protocol']} {s['shots']}-shot, accuracy "
                 f"{100 * rows[0]['mean']:.1f}% on {rows[0]['episodes']} test episodes "
                 "(gallery: support above, query below)", fontsize=9)
    fig.tight_layout()
    return fig


def summarize(result: dict) -> str:
    """Accuracy, the digits and pairs with the most errors."""
    rows = result["rows"]
    digits = sorted((r for r in rows if r["metric"] == "digit_error"), key=lambda r: -r["mean"])
    pairs = sorted((r for r in rows if r["metric"] == "pair_false_same" and r["episodes"] >= 20),
                   key=lambda r: -r["mean"])[:5]
    numbers = sorted((r for r in rows if r["metric"] == "number_false_different"),
                     key=lambda r: -r["mean"])[:5]
    top = rows[0]
    same, different = top["same_errors"], top["different_errors"]
    return "\n".join("- " + line for line in [
        f"Accuracy {100 * top['mean']:.1f}% ± {100 * top['ci95']:.1f} on {top['episodes']} "
        f"episodes; errors on 'same' queries {same[0]}/{same[1]}, on 'different' "
        f"{different[0]}/{different[1]}.",
        "Error by digit: " + ", ".join(
            f"{r['settings']['digit']}{'*' if r['settings']['heldout'] else ''} "
            f"{100 * r['mean']:.1f}%" for r in digits) + " (* never seen in training).",
        "'Different' answered to the same number, worst five: " + ", ".join(
            f"{r['settings']['number']:02d} {100 * r['mean']:.0f}% of {r['episodes']}"
            for r in numbers) + ".",
        "Most confused pairs (at least 20 queries): " + ", ".join(
            f"{r['settings']['pair']} {100 * r['mean']:.0f}% of {r['episodes']}" for r in pairs)
        + "."])

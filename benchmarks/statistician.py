"""Neural Statistician as a generator: new Omniglot characters drawn from 1 or 5 images of each.

One `"statistician_elbo"` model (`l2l.statistician.NeuralStatistician` trained on its ELBO
only, as in Edwards & Storkey, 2017; one latent layer, MLP decoder: see that module) is
trained for `minutes` on episodes of the Omniglot training alphabets of `benchmarks.few_shot`
(the small background sets, alphabet-disjoint splits, rotations as new classes): `ways`
characters per episode, each a set of 1 to 5 images (ragged shots) plus one query, which the
ELBO treats as a set of its own. Then, on characters of alphabets never seen in training:

- `elbo_per_example`, one row per support size (1 and 5 images): the ELBO of each held-out
  set divided by its size, in nats per image (binarised 28x28 pixels; higher is better), one
  draw of `c` and `z` per set, over the `test_sets` stored episodes' sets
  (`statistician-omniglot-5way-<k>shot`, 5 characters each);
- `accuracy`: the same model as the paper's few-shot classifier (smallest
  `KL(q(c | query) || q(c | class))`) on the omniglot benchmark's stored 5-way 1-shot
  episodes (`few_shot-omniglot-5way-1shot`), never trained on a classification loss;
- the picture: for `characters` held-out characters, the support images (1, then 5) and
  `samples` new images drawn as `c ~ q(c | support)`, `z ~ p(z | c)`, decoder mean.

Budget: 4 training minutes plus scoring, about 5 minutes on 2 CPU cores (quick: 2 seconds of
training, tiny networks). Not done: the paper's three latent layers and convolutional decoder,
the full background set, hours of training, several seeds.
"""

from __future__ import annotations

import numpy as np

from benchmarks import few_shot
from benchmarks.common import PeakRSS, progress, row, stored_episodes, train_and_evaluate

KIND = "statistician_elbo"
SUPPORT_SIZES = (1, 5)
_LEVELS = "0123456789abcdef"  # pictures are stored in the JSON as 16 grey levels per pixel


def encode_image(image: np.ndarray) -> str:
    """A [0, 1] image as one hex digit (16 grey levels) per pixel, row by row."""
    levels = np.clip(np.rint(np.asarray(image, "float64").ravel() * 15), 0, 15).astype(int)
    return "".join(_LEVELS[v] for v in levels)


def decode_image(text: str, shape) -> np.ndarray:
    """`encode_image`'s inverse (to 16 grey levels).

    >>> decode_image(encode_image(np.array([[0.0, 1.0]])), (1, 2)).tolist()
    [[0.0, 1.0]]
    """
    return np.array([_LEVELS.index(c) for c in text], "float64").reshape(shape) / 15


def run(quick: bool = False, seed: int = 0, *, minutes: float | None = None, ways: int = 5,
        batch_size: int | None = None, steps_per_epoch: int | None = None,
        width: int | None = None, test_sets: int | None = None, test_episodes: int | None = None,
        characters: int = 5, samples: int = 8, data_dir: str | None = None) -> dict:
    """Train one ELBO-only statistician; score held-out ELBO and 5-way 1-shot; draw samples."""
    import keras

    from l2l.evaluation import mean_ci95
    from l2l.networks import conv_encoder
    from l2l.presets import classification_model
    from l2l.tasks import FewShotClassification

    minutes = minutes if minutes is not None else (0.03 if quick else 4.0)
    batch_size = batch_size or (4 if quick else 16)
    steps = steps_per_epoch or (5 if quick else 50)
    width = width or (16 if quick else 64)
    filters = (8, 8) if quick else (32, 32, 32)
    n_sets = test_sets or (10 if quick else 200)
    n_test = test_episodes or (50 if quick else 1000)
    if not 1 <= characters <= 5 or samples < 1:
        raise ValueError(f"characters must be 1..5 (one stored episode's) and samples >= 1, "
                         f"got {characters} and {samples}.")

    data = few_shot.load("omniglot", data_dir)
    train = FewShotClassification(data["train_x"], data["train_labels"], ways=ways,
                                  shots=(1, max(SUPPORT_SIZES)), queries=1,
                                  classes=data["train"])
    progress.plan(1)
    progress.cell(f"{KIND}, {minutes:g} training minutes")
    keras.utils.set_random_seed(seed)
    with PeakRSS() as memory:
        model = classification_model(KIND, ways, width=width,
                                     encoder=conv_encoder(filters, units=width))
        classify = few_shot.test_episodes_of(data, "omniglot", 5, 1, 5, n_test)
        out = train_and_evaluate(model, train.dataset(batch_size, seed=seed), classify,
                                 minutes=minutes, steps_per_epoch=steps, anneal=True)
        statistician = model.predictor.statistician
        common = dict(seed=seed, train_seconds=out["train_seconds"], memory=memory,
                      steps=out["steps"], episodes_trained=out["steps"] * batch_size)
        rows = [row(KIND, "accuracy", out["mean"], ci95=out["ci95"], episodes=out["episodes"],
                    settings={"ways": 5, "shots": 1}, chance=0.2,
                    scored_on=f"few_shot-omniglot-5way-1shot-test-n{n_test}-seed0", **common)]
        picture = {}
        for k in SUPPORT_SIZES:
            task = FewShotClassification(data["x"], data["labels"], ways=5, shots=k, queries=1,
                                         classes=data["test"])
            name = f"statistician-omniglot-5way-{k}shot"
            sets = stored_episodes(task, name, n_sets, "test")
            onehot = keras.ops.one_hot(sets.support_y, 5)
            elbo, sizes = statistician.set_elbo(sets.support_x, onehot, sets.support_mask,
                                                seed=seed)
            per_example = (np.asarray(elbo) / np.asarray(sizes)).ravel()
            mean, ci = mean_ci95(per_example)
            rows.append(row(KIND, "elbo_per_example", mean, ci95=ci, episodes=n_sets,
                            settings={"support_images": k}, sets=int(per_example.size),
                            unit="nats per image", scored_on=f"{name}-test-n{n_sets}-seed0",
                            **common))
            picture[str(k)] = _picture(statistician, sets, characters, samples, seed)
    keras.backend.clear_session()
    notes = [f"One seed, {minutes:g} training minutes on a shared 2-core CPU "
             f"({out['steps']} steps of {batch_size} episodes); the paper trains for hours "
             "with three latent layers, so its samples are sharper than these.",
             "The ELBO-only model was never trained to classify: its 5-way 1-shot accuracy is "
             "the paper's rule on a generative model (the omniglot benchmark's statistician "
             "rows compare both objectives with ProtoNet at equal training time)."]
    return {"rows": rows, "settings": {
        "kind": KIND, "minutes": minutes, "ways": ways, "train_shots": [1, max(SUPPORT_SIZES)],
        "train_queries_per_class": 1, "batch_size": batch_size, "steps_per_epoch": steps,
        "width": width, "encoder_filters": filters, "context_dim": statistician.context_dim,
        "latent_dim": statistician.latent_dim, "learning_rate": 1e-3,
        "lr_schedule": "cosine to zero over the time budget", "test_sets": n_sets,
        "test_episodes": n_test, "data": data["info"], "picture_seed": seed,
        "image_shape": list(statistician.example_shape), "picture": picture},
        "notes": notes}


def _picture(statistician, sets, characters: int, samples: int, seed: int) -> dict:
    """Support images and samples of the first `characters` classes of the first stored set."""
    episode = sets[:1]
    scale = statistician.input_scale
    support, generated = [], []
    for c in range(characters):
        rows = np.flatnonzero((episode.support_y[0] == c) & (episode.support_mask[0] > 0))
        images = episode.support_x[0, rows]
        support.append([encode_image(image * scale) for image in images])
        new = statistician.sample(images[None], samples=samples, seed=seed + c)
        generated.append([encode_image(image) for image in np.asarray(new)[0]])
    return {"support": support, "samples": generated}


def plot(result: dict):
    """Per support size, one line per held-out character: its support images, then samples."""
    import matplotlib.pyplot as plt

    s = result["settings"]
    shape = s["image_shape"][:2]
    panels = s["picture"]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.2), squeeze=False)
    for ax, (k, panel) in zip(axes[0], panels.items(), strict=True):
        width = int(k) + 1 + len(panel["samples"][0])
        grid = np.ones((len(panel["support"]) * (shape[0] + 2), width * (shape[1] + 2)))
        for i, (support, new) in enumerate(zip(panel["support"], panel["samples"],
                                               strict=True)):
            for j, text in enumerate(support + [None] + new):
                if text is not None:
                    top, left = i * (shape[0] + 2) + 1, j * (shape[1] + 2) + 1
                    grid[top:top + shape[0], left:left + shape[1]] = 1 - decode_image(text,
                                                                                      shape)
        ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        elbo = [r for r in result["rows"] if r["metric"] == "elbo_per_example"
                and str(r["settings"]["support_images"]) == k]
        ax.set_title(f"{k} support image{'s' if k != '1' else ''} (left) | samples (right)"
                     + (f"\nheld-out ELBO {elbo[0]['mean']:.1f} nats per image" if elbo else ""),
                     fontsize=9)
        ax.axis("off")
    fig.suptitle(f"Neural Statistician on Omniglot characters of unseen alphabets "
                 f"({s['minutes']:g} training minutes, {result['mode']} run)", fontsize=10)
    fig.tight_layout()
    return fig


def summarize(result: dict) -> str:
    """The held-out ELBO per support size and the 5-way 1-shot accuracy, with the picture."""
    from benchmarks.readme import format_value

    lines = ["| measure | value |", "| --- | --- |"]
    for r in result["rows"]:
        if r["metric"] == "elbo_per_example":
            lines.append(f"| held-out ELBO, sets of {r['settings']['support_images']} "
                         f"(nats per image, {r['sets']} sets) | "
                         f"{format_value(r['metric'], r['mean'], r['ci95'])} |")
        else:
            lines.append(f"| 5-way 1-shot accuracy, unseen alphabets ({r['episodes']} stored "
                         f"episodes; chance 20%) | "
                         f"{format_value(r['metric'], r['mean'], r['ci95'])} |")
    return "\n".join(lines)

"""Episode grids: binary and classification episodes, captioned with truth and answers."""

from __future__ import annotations

import numpy as np

from l2l.tasks import FewShotClassification
from l2l.viz import figure_to_array, plot_episodes


def test_classification_grid_names_classes_and_marks_wrong_answers_red():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (60, 8, 8), dtype=np.uint8)
    episodes = FewShotClassification(images, np.arange(60) % 6, ways=3, shots=1, queries=2
                                     ).fixed_episodes(2, seed=0)
    logits = np.eye(3)[episodes.query_y] * 5.0  # right everywhere ...
    logits[0, 0] = np.eye(3)[(episodes.query_y[0, 0] + 1) % 3] * 5.0  # ... but once
    fig = plot_episodes(episodes, logits, rows=2, max_queries=4)
    axes = np.array(fig.axes).reshape(2, 3 + 4)
    assert axes[0, 0].get_title() == f"class {episodes.support_y[0, 0]}"
    first, second = axes[0, 3].title, axes[0, 4].title
    assert first.get_text().startswith(f"true {episodes.query_y[0, 0]}\nsaid ")
    assert first.get_color() == "red" and second.get_color() == "black"
    pixels = figure_to_array(fig)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[-1] == 3

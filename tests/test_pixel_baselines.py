"""The pixel-space baselines of recognition as reconstruction: masked distances equal a hand
sum, leave-one-out never lets an image vote for itself, k-NN on shown pixels beats chance."""

import numpy as np
import pytest

from l2l.errors import InvalidValueError
from l2l.systems.pixel_baselines import (
    choose_k,
    nearest_neighbours,
    random_masks,
    squared_distances,
)


def test_masked_distances_equal_a_hand_sum_over_the_shown_pixels():
    rng = np.random.default_rng(0)
    queries, train = rng.random((3, 6)), rng.random((4, 6))
    masks = random_masks(rng, 3, 6, shots=2)
    assert masks.sum(axis=1).tolist() == [2.0, 2.0, 2.0]
    hand = [[sum((queries[q, p] - train[n, p]) ** 2 for p in range(6) if masks[q, p])
             for n in range(4)] for q in range(3)]
    np.testing.assert_allclose(squared_distances(queries, train, masks), hand, atol=1e-12)


def test_leave_one_out_never_counts_an_image_as_its_own_neighbour():
    rng = np.random.default_rng(0)
    noise, labels = rng.random((200, 20)), rng.integers(0, 2, 200)  # labels carry no signal
    k, accuracy = choose_k(noise, labels, candidates=(1, 3), seed=0)
    assert accuracy[1] < 0.65 and accuracy[3] < 0.65  # its own copy would give 100%
    assert k in (1, 3) and accuracy[k] == max(accuracy.values())


def test_knn_on_shown_pixels_beats_chance_on_held_out_digits(digits):
    images, labels = digits  # 60 noisy images of each of 10 stroke templates
    pixels = images.reshape(len(images), -1) / 255
    order = np.argsort(labels, kind="stable")
    train = order[np.arange(len(order)) % 60 < 10]  # 10 images per digit
    test = order[np.arange(len(order)) % 60 >= 50]  # 10 other images per digit
    k, _ = choose_k(pixels[train], labels[train], shots=5, seed=0)  # 5 of 784 pixels
    masks = random_masks(np.random.default_rng(1), len(test), pixels.shape[1], 5)
    predicted = nearest_neighbours(pixels[train], labels[train], pixels[test], k, masks)
    assert (predicted == labels[test]).mean() > 0.6  # chance is 0.1
    with pytest.raises(InvalidValueError, match="`k`"):
        nearest_neighbours(pixels[train], labels[train], pixels[test], 0)

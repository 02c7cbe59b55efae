import numpy as np
import pytest

from l2l.tasks import ImageAsDataset, class_splits


def gradient_images(n=12, h=6, w=5):
    """Image i has pixel value (10 * i + row * w + col) % 256: every value says which image
    and which pixel it came from."""
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    images = (10 * np.arange(n)[:, None, None] + rows * w + cols) % 256
    return images.astype(np.uint8), np.arange(n) % 4


def test_shapes_dtypes_and_all_pixel_queries():
    images, labels = gradient_images()
    task = ImageAsDataset(images, labels, shots=7)
    ep = task.episodes(8, seed=0)
    assert ep.support_x.shape == (8, 7, 2) and ep.support_y.shape == (8, 7, 1)
    assert ep.query_x.shape == (8, 30, 2) and ep.query_y.shape == (8, 30, 1)
    assert {a.dtype for a in (ep.support_x, ep.support_y, ep.query_x, ep.query_y)} == {
        np.dtype("float32")}
    np.testing.assert_array_equal(ep.query_x[0], task.coordinates)  # raster order
    assert task.coordinates[0].tolist() == [-1, -1] and task.coordinates[-1].tolist() == [1, 1]
    assert task.coordinates[1].tolist() == [-1, -0.5]  # second pixel: next column


def test_pixels_carry_their_position_and_intensity():
    images, labels = gradient_images()
    task = ImageAsDataset(images, labels, shots=10, queries=15)
    ep, info = task.episodes(20, seed=1, with_info=True)
    for b in range(20):
        image = images[info["image_index"][b]]
        for x, y in ((ep.support_x[b], ep.support_y[b]), (ep.query_x[b], ep.query_y[b])):
            row = np.rint((x[:, 0] + 1) / 2 * 5).astype(int)
            col = np.rint((x[:, 1] + 1) / 2 * 4).astype(int)
            np.testing.assert_allclose(y[:, 0], image[row, col] / 255.0, rtol=1e-6)
        support = {tuple(p) for p in ep.support_x[b].tolist()}
        query = {tuple(p) for p in ep.query_x[b].tolist()}
        assert len(support) == 10 and len(query) == 15 and support.isdisjoint(query)
    np.testing.assert_array_equal(info["labels"], labels[info["image_index"]])
    with pytest.raises(ValueError, match=r"as_images needs the values of all 30 pixels"):
        task.as_images(ep.query_y)  # 15 random query pixels are not a whole image
    whole = ImageAsDataset(images, labels, shots=10)
    ep, info = whole.episodes(3, seed=1, with_info=True)
    np.testing.assert_allclose(whole.as_images(ep.query_y), images[info["image_index"]] / 255,
                               rtol=1e-6)


def test_all_pixel_support_and_colour_images():
    images, _ = gradient_images()
    colour = np.stack([images, 255 - images, images // 2], axis=-1)
    with pytest.raises(ValueError, match="30 support \\+ 1 distinct query"):
        ImageAsDataset(colour, shots="all", queries=1)  # no pixel left to query
    task = ImageAsDataset(colour.astype("float32") / 255.0, shots="all")
    ep, info = task.episodes(4, seed=2, with_info=True)
    assert ep.support_y.shape == (4, 30, 3) and "labels" not in info
    np.testing.assert_allclose(task.as_images(ep.support_y),
                               colour[info["image_index"]] / 255.0, rtol=1e-6)


def test_classes_and_indices_restrict_the_images():
    images, labels = gradient_images(n=40)
    splits = class_splits(labels, fractions=(0.5, 0.5))
    task = ImageAsDataset(images, labels, shots=5, classes=splits["test"])
    _, info = task.episodes(100, seed=3, with_info=True)
    assert set(info["labels"].tolist()) == set(splits["test"].tolist())
    assert task.num_images == 20
    pool = np.arange(0, 40, 3)
    task = ImageAsDataset(images, labels, shots=5, indices=pool, classes=[1])
    _, info = task.episodes(50, seed=3, with_info=True)
    assert set(info["image_index"].tolist()) <= set(pool[labels[pool] == 1].tolist())
    fixed, info = task.fixed_episodes(30, seed=0, with_info=True)
    assert fixed.batch_size == 30 and info["labels"].tolist() == [1] * 30


def test_determinism_and_ragged_support():
    images, labels = gradient_images()
    task = ImageAsDataset(images, labels, shots=(3, 9), queries=4)
    a, b = task.episodes(32, seed=4), task.episodes(32, seed=4)
    np.testing.assert_array_equal(a.support_x, b.support_x)
    assert not np.array_equal(a.query_y, task.episodes(32, seed=5).query_y)
    lengths = a.support_mask.sum(axis=1)
    assert lengths.min() >= 3 and lengths.max() <= 9 and len(set(lengths.tolist())) > 2
    for mask, x, y in zip(a.support_mask, a.support_x, a.support_y, strict=True):
        k = int(mask.sum())
        np.testing.assert_array_equal(mask, np.arange(9) < k)
        assert (x[k:] == 0).all() and (y[k:] == 0).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(shots=31), r"30 pixels \(6x5\) but an episode needs 31 support pixels"),
    (dict(shots=20, queries=11), r"needs 20 support \+ 11 distinct query pixels"),
    (dict(shots="some"), r"shots must be an int, a \(min, max\) range or 'all'"),
    (dict(queries="most"), r"queries must be an int or 'all'"),
    (dict(queries=0), r"queries must be 'all' or an integer >= 1"),
    (dict(shots=(4, 2)), r"shots must be >= 1"),
    (dict(classes=[]), r"classes is empty"),
    (dict(classes=[1, 9]), r"classes \[9\] have no images in labels"),
    (dict(indices=[0, 4], classes=[1]), r"classes \[1\] have no images among the given indices"),
    (dict(indices=[50]), r"indices must be a non-empty set of rows of images \(0..11\)"),
])
def test_bad_arguments(kwargs, message):
    images, labels = gradient_images()
    with pytest.raises(ValueError, match=message):
        ImageAsDataset(images, labels, **kwargs)


def test_bad_images_and_labels():
    images, labels = gradient_images()
    with pytest.raises(ValueError, match=r"images must be \[N, H, W\] or \[N, H, W, C\]"):
        ImageAsDataset(images[:, :1])
    with pytest.raises(ValueError, match=r"float images must hold intensities in \[0, 1\]"):
        ImageAsDataset(images.astype("float32"))
    bad = images.astype("float32") / 255
    bad[2, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        ImageAsDataset(bad)
    with pytest.raises(ValueError, match="must be uint8 or float"):
        ImageAsDataset(images.astype(np.int64))
    with pytest.raises(ValueError, match="labels must be 12 integer classes"):
        ImageAsDataset(images, labels[:5])
    with pytest.raises(ValueError, match="pass labels too"):
        ImageAsDataset(images, classes=[1])


def test_real_mnist_images(mnist_dir):
    from l2l.datasets import load_mnist

    images, labels = load_mnist(mnist_dir, subset="test", download=False)
    task = ImageAsDataset(images, labels, shots=100, classes=[0, 1])
    ep, info = task.episodes(16, seed=0, with_info=True)
    np.testing.assert_allclose(task.as_images(ep.query_y), images[info["image_index"]] / 255.0,
                               rtol=1e-6)
    assert set(info["labels"].tolist()) <= {0, 1}

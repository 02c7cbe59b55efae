import io
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from l2l.datasets import (
    ChecksumError,
    CorruptDataError,
    DataNotFoundError,
    alphabet_splits,
    character_splits,
    load_omniglot,
)
from l2l.datasets import omniglot as omniglot_module
from l2l.datasets.paths import file_digest
from l2l.tasks import FewShotClassification

SMALL1 = "images_background_small1"


def png(square_at=None, size=105):
    """A white 105x105 PNG (like Omniglot: white paper, black ink) with an optional black
    square, so ink position identifies the image."""
    pixels = np.full((size, size), 255, np.uint8)
    if square_at is not None:
        r, c = square_at
        pixels[r : r + 15, c : c + 15] = 0
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert("1").save(buffer, "PNG")
    return buffer.getvalue()


FAKE = {  # alphabet -> characters -> drawers
    "Latin": {"character01": (1, 2, 3), "character02": (1, 2, 3)},
    "Greek": {"character01": (1, 2, 3), "character10": (4, 5, 6), "character02": (1, 2, 3)},
}


def simple_entries(name=SMALL1):
    """`(member, png)` pairs for FAKE; each image's ink square sits at (10 * drawer,
    8 * character number)."""
    out = []
    for alphabet, chars in FAKE.items():
        for character, drawers in chars.items():
            for d in drawers:
                out.append((f"{name}/{alphabet}/{character}/0001_{d:02d}.png",
                            png((d * 10, int(character[-2:]) * 8))))
    return out


def fake_zip(folder, name=SMALL1, entries=None, reverse=False):
    """A zip with the canonical layout `<name>/<Alphabet>/<character>/<id>_<drawer>.png`."""
    entries = simple_entries(name) if entries is None else list(entries)
    path = Path(folder) / f"{name}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}/", b"")
        for member, data in entries[::-1] if reverse else entries:
            z.writestr(member, data)
    return path


def load(folder, **kwargs):
    kwargs.setdefault("verify", False)
    kwargs.setdefault("cache_dir", False)
    return load_omniglot(folder, **kwargs)


def test_fake_zip_loads_with_labels_sorted_by_name(tmp_path):
    fake_zip(tmp_path, reverse=True)  # member order must not matter
    data = load(tmp_path, image_size=105)
    assert data.images.shape == (15, 105, 105) and data.images.dtype == np.uint8
    assert data.alphabet_names == ("Greek", "Latin")
    assert data.character_names == ("Greek/character01", "Greek/character02",
                                     "Greek/character10", "Latin/character01",
                                     "Latin/character02")
    assert data.characters.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3
    assert data.alphabets.tolist() == [0] * 9 + [1] * 6
    assert data.drawers.tolist() == [1, 2, 3, 1, 2, 3, 4, 5, 6, 1, 2, 3, 1, 2, 3]
    assert data.sets.tolist() == [0] * 15 and data.set_names == (SMALL1,)
    assert data.characters.dtype == np.int32 and data.num_classes == 5 and len(data) == 15
    # Ink is high: image 0 (Greek/character01, drawer 1) has its square at (10, 8).
    assert data.images[0, 10:25, 8:23].min() == 255 and data.images[0].sum() == 255 * 15 * 15


def test_resizing_averages_ink(tmp_path):
    fake_zip(tmp_path)
    small = load(tmp_path, image_size=21)  # 105 = 5 * 21: each pixel averages a 5x5 block
    full = load(tmp_path, image_size=105)
    blocks = full.images.reshape(15, 21, 5, 21, 5).mean(axis=(2, 4))
    np.testing.assert_allclose(small.images, blocks, atol=1)
    assert load(tmp_path).images.shape == (15, 28, 28)


def test_decoded_arrays_are_cached_by_digest_and_size(tmp_path, monkeypatch):
    zip_path = fake_zip(tmp_path / "data")
    cache = tmp_path / "cache"
    first = load(tmp_path / "data", cache_dir=cache)
    digest = file_digest(zip_path, "md5")
    cached = cache / f"{SMALL1}-{digest}-28px-v1.npz"
    assert sorted(os.listdir(cache)) == [cached.name]  # no temporary file left behind

    def no_decoding(*args):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(omniglot_module, "_decode_zip", no_decoding)
    second = load(tmp_path / "data", cache_dir=cache)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.characters, second.characters)
    with pytest.raises(AssertionError, match="decoded again"):
        load(tmp_path / "data", cache_dir=cache, image_size=14)  # another size: new entry
    monkeypatch.undo()

    cached.write_bytes(b"damaged")  # a broken cache file is rebuilt, not trusted
    third = load(tmp_path / "data", cache_dir=cache)
    np.testing.assert_array_equal(first.images, third.images)
    assert np.load(cached)["images"].shape == (15, 28, 28)


def test_unwritable_cache_warns_and_still_loads(tmp_path):
    fake_zip(tmp_path)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    with pytest.warns(UserWarning, match="Could not cache decoded Omniglot images"):
        data = load(tmp_path, cache_dir=blocker / "cache")
    assert len(data) == 15


def test_overlapping_sets_keep_each_image_once(tmp_path):
    entries = simple_entries()
    fake_zip(tmp_path, entries=entries)
    other = "images_background_small2"
    shared = [(e[0].replace(SMALL1, other), e[1]) for e in entries if "/Latin/" in e[0]]
    extra = (f"{other}/Tagalog/character01/0002_01.png", png((0, 0)))
    fake_zip(tmp_path, other, entries=shared + [extra])
    data = load(tmp_path, sets=(SMALL1, other))
    assert len(data) == 16 and data.alphabet_names == ("Greek", "Latin", "Tagalog")
    assert data.sets.tolist() == [0] * 15 + [1]


def test_path_resolution_uses_the_environment_then_the_keras_cache(tmp_path, monkeypatch):
    fake_zip(tmp_path / "env" / "omniglot")
    monkeypatch.setenv("L2L_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert len(load(None, download=False)) == 15
    monkeypatch.delenv("L2L_DATA_DIR")
    with pytest.raises(DataNotFoundError):
        load(None, download=False)
    fake_zip(tmp_path / "keras" / "datasets")
    assert len(load(None, download=False)) == 15
    zip_file = tmp_path / "keras" / "datasets" / f"{SMALL1}.zip"
    assert len(load(zip_file)) == 15  # path may name the zip itself


def test_missing_zip_lists_the_places_looked_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("L2L_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (tmp_path / "omniglot" / SMALL1).mkdir(parents=True)  # unzipped, not the zip
    with pytest.raises(DataNotFoundError) as error:
        load(None, download=False)
    message = str(error.value)
    assert f"{SMALL1}.zip" in message
    assert str(tmp_path / "omniglot") in message and str(tmp_path / "keras" / "datasets") in message
    assert "found the extracted folder(s)" in message
    assert "download: disabled (download=False)" in message
    assert "L2L_DATA_DIR" in message and "raw.githubusercontent.com/brendenlake" in message
    with pytest.raises(DataNotFoundError, match="not attempted \\(an explicit path was given"):
        load(tmp_path / "nowhere")


def test_download_goes_through_keras_get_file_with_the_md5(tmp_path, monkeypatch):
    import keras

    source = fake_zip(tmp_path / "server")
    monkeypatch.delenv("L2L_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setitem(omniglot_module.OMNIGLOT_CHECKSUMS, SMALL1, file_digest(source, "md5"))
    calls = []

    def fake_get_file(fname, origin, file_hash, cache_dir, cache_subdir):
        calls.append((fname, origin, file_hash))
        target = Path(cache_dir) / cache_subdir / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        return str(target)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    data = load_omniglot(cache_dir=False)  # verify=True: the patched digest matches
    assert len(data) == 15
    assert calls == [(f"{SMALL1}.zip", f"https://raw.githubusercontent.com/brendenlake/omniglot/"
                      f"master/python/{SMALL1}.zip", file_digest(source, "md5"))]
    assert load_omniglot(cache_dir=False) is not None and len(calls) == 1  # now found locally

    def offline(**kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: offline())
    with pytest.raises(DataNotFoundError, match="failed: OSError: network is unreachable"):
        load_omniglot(sets="images_evaluation", cache_dir=False)


def test_checksum_mismatch(tmp_path):
    fake_zip(tmp_path)
    with pytest.raises(ChecksumError, match=r"has md5 [0-9a-f]{32}, but the canonical "
                                            r"images_background_small1.zip has md5 e704a628"):
        load(tmp_path, verify=True)


def test_corrupt_zip_and_corrupt_png(tmp_path):
    (tmp_path / f"{SMALL1}.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(CorruptDataError, match="not a readable zip archive"):
        load(tmp_path)
    entries = simple_entries()
    entries[4] = (entries[4][0], b"\x89PNG broken")
    fake_zip(tmp_path, entries=entries)
    with pytest.raises(CorruptDataError, match=r"cannot read .*/Latin/character02/0001_02.png"):
        load(tmp_path)


@pytest.mark.parametrize("member, message", [
    (f"{SMALL1}/Greek/0001_01.png", r"canonical Omniglot layout .*1 PNGs lie elsewhere"),
    ("images_evaluation/Greek/character01/0001_01.png", r"1 PNGs lie elsewhere"),
    (f"{SMALL1}/Greek/character01/drawing.png", r"named <character id>_<drawer>.png"),
])
def test_wrong_layout_is_named(tmp_path, member, message):
    fake_zip(tmp_path, entries=simple_entries() + [(member, png())])
    with pytest.raises(CorruptDataError, match=message):
        load(tmp_path)


def test_zip_without_images(tmp_path):
    fake_zip(tmp_path, entries=[(f"{SMALL1}/README.txt", b"hello")])
    with pytest.raises(CorruptDataError, match="holds no PNG images"):
        load(tmp_path)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="sets must be distinct names from"):
        load(tmp_path, sets=("images_background_small3",))
    with pytest.raises(ValueError, match="image_size must be an integer in 1..105"):
        load(tmp_path, image_size=200)


def test_rotations_are_new_classes(tmp_path):
    fake_zip(tmp_path)
    data = load(tmp_path)
    four = data.rotated()
    assert len(four) == 60 and four.num_classes == 20
    for r in range(4):
        rows = slice(r * 15, (r + 1) * 15)
        np.testing.assert_array_equal(four.images[rows], np.rot90(data.images, r, axes=(1, 2)))
        np.testing.assert_array_equal(four.characters[rows], data.characters * 4 + r)
        assert (four.rotations[rows] == r).all()
    np.testing.assert_array_equal(four.characters // 4, four.base_characters)
    assert four.character_names[four.characters[16]] == "Greek/character01/rot90"
    two = data.rotated((0, 2))
    assert two.num_classes == 10 and two.character_names[1] == "Greek/character01/rot180"
    with pytest.raises(ValueError, match="distinct integers in 0..3"):
        data.rotated((1, 1))
    with pytest.raises(ValueError, match="distinct integers in 0..3"):
        data.rotated((4,))
    with pytest.raises(ValueError, match="already rotated"):
        four.rotated()


def test_splits_keep_alphabets_and_rotations_apart(tmp_path):
    fake_zip(tmp_path)
    four = load(tmp_path).rotated()
    by_alphabet = alphabet_splits(four, fractions=(0.5, 0.5))
    alphabets = {k: set(four.alphabets[np.isin(four.characters, v)].tolist())
                 for k, v in by_alphabet.items()}
    assert alphabets["train"].isdisjoint(alphabets["test"])
    assert len(set().union(*by_alphabet.values())) == 20
    by_character = character_splits(four, fractions=(0.6, 0.4))
    bases = {k: set((v // 4).tolist()) for k, v in by_character.items()}
    assert bases["train"].isdisjoint(bases["test"]) and len(bases["train"] | bases["test"]) == 5
    assert all(len(v) % 4 == 0 for v in by_character.values())  # all 4 rotations together


def test_real_small1_zip(omniglot_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("omniglot-cache")
    data = load_omniglot(omniglot_dir, cache_dir=cache)  # verify=True: the canonical md5
    assert data.images.shape == (2720, 28, 28) and data.images.dtype == np.uint8
    assert data.alphabet_names == ("Balinese", "Early_Aramaic", "Greek", "Korean", "Latin")
    assert data.num_classes == 136 and (np.bincount(data.characters) == 20).all()
    assert sorted(set(data.drawers.tolist())) == list(range(1, 21))
    ink = (data.images > 127).mean()
    assert 0.03 < ink < 0.25  # thin strokes on a blank background, ink high
    splits = alphabet_splits(data, fractions=(0.6, 0.2, 0.2))
    task = FewShotClassification(data.images[..., None], data.characters, ways=5, shots=1,
                                 queries=2, classes=splits["test"])
    ep, info = task.episodes(4, seed=0, with_info=True)
    assert ep.support_x.shape == (4, 5, 28, 28, 1)
    assert np.isin(info["classes"], splits["test"]).all()

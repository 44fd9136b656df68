"""Face detection, cropping and prediction on a photo (``fer_course.faces.detect``).

The real face is matplotlib's sample photo of Grace Hopper (US Navy, public domain),
shipped with matplotlib: no image is stored in this repository.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fer_course.data.types import CLASSES
from fer_course.faces.detect import (
    ImageReadError,
    crop_faces,
    detect_faces,
    load_gray,
    load_model,
    predict_faces,
    show_faces,
)
from fer_course.faces.pasted_faces import iou

pytest.importorskip("cv2")


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

HOPPER_FACE = (170, 130, 190, 200)
"""Grace Hopper's face in the 512 x 600 sample photo, marked by hand: brow to chin."""


def best_iou(boxes, reference) -> float:
    return max((iou(box, reference) for box in boxes), default=0.0)


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    cbook = pytest.importorskip("matplotlib.cbook")
    try:
        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    except (OSError, ValueError):
        pytest.skip("matplotlib's sample data are not installed")
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_finds_the_face_in_a_photo(hopper):
    boxes = detect_faces(hopper)
    assert len(boxes) >= 1
    assert all(isinstance(v, int) for box in boxes for v in box)
    assert best_iou(boxes, HOPPER_FACE) > 0.5


def test_paths_and_pil_images_give_the_same_boxes(hopper, tmp_path):
    path = tmp_path / "hopper.png"
    Image.fromarray(hopper).save(path)
    expected = detect_faces(hopper)
    assert detect_faces(path) == expected
    assert detect_faces(str(path)) == expected
    assert detect_faces(Image.fromarray(hopper)) == expected


def test_blank_and_noise_photos_have_no_face():
    assert detect_faces(np.full((480, 640, 3), 200, dtype=np.uint8)) == []
    noise = np.random.default_rng(0).integers(0, 256, (480, 640), dtype=np.uint8)
    assert detect_faces(noise) == []


@pytest.mark.parametrize("kind", ["rgba", "gray", "gray16", "rgb16", "float", "palette"])
def test_other_pixel_formats(hopper, tmp_path, kind):
    gray = np.asarray(Image.fromarray(hopper).convert("L"))
    if kind == "rgba":
        alpha = np.full(hopper.shape[:2] + (1,), 255, dtype=np.uint8)
        image = Image.fromarray(np.concatenate([hopper, alpha], axis=2))
        assert image.mode == "RGBA"
    elif kind == "gray":
        image = Image.fromarray(gray)
    elif kind == "gray16":
        image = Image.fromarray(gray.astype(np.uint16) * 257)  # 16-bit PNG
    elif kind == "rgb16":
        image = hopper.astype(np.uint16) * 257  # an array: PIL has no 16-bit RGB mode
    elif kind == "float":
        image = hopper.astype(np.float32) / 255
    else:
        image = Image.fromarray(hopper).convert("P")
    if isinstance(image, Image.Image):
        path = tmp_path / f"{kind}.png"
        image.save(path)
        with Image.open(path) as reopened:
            assert reopened.mode == image.mode or kind == "gray16"
        image = path
    boxes = detect_faces(image)
    assert best_iou(boxes, HOPPER_FACE) > 0.5, boxes
    if kind in ("gray", "gray16", "rgb16", "float"):  # the same gray levels exactly
        assert np.abs(load_gray(image).astype(int) - gray).max() <= 1


def test_a_large_photo_is_downscaled_and_the_boxes_mapped_back(hopper):
    canvas = np.full((4000, 6000, 3), 90, dtype=np.uint8)  # 6000 x 4000, a 24 Mpixel photo
    scale, left, top = 3, 3500, 1600
    big = np.asarray(Image.fromarray(hopper).resize((512 * scale, 600 * scale)))
    canvas[top:top + 600 * scale, left:left + 512 * scale] = big
    start = time.perf_counter()
    boxes = detect_faces(canvas)
    seconds = time.perf_counter() - start
    expected = tuple(v * scale for v in HOPPER_FACE)
    expected = (expected[0] + left, expected[1] + top, expected[2], expected[3])
    assert best_iou(boxes, expected) > 0.5, boxes
    assert seconds < 10  # about 0.3 s alone; generous for a shared machine


def test_small_photos_are_not_downscaled(hopper):
    assert detect_faces(hopper, max_side=4000) == detect_faces(hopper)


def test_exif_rotation_is_honoured(hopper, tmp_path):
    upright = Image.fromarray(hopper)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a camera held sideways saves it
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "sideways.jpg"
    stored.save(path, quality=95, exif=exif)
    assert best_iou(detect_faces(np.asarray(stored)), HOPPER_FACE) < 0.5  # sideways: not found
    boxes = detect_faces(path)
    assert best_iou(boxes, HOPPER_FACE) > 0.5, boxes
    assert load_gray(path).shape == hopper.shape[:2]
    with Image.open(path) as image:  # a PIL image keeps its EXIF: also turned upright
        assert best_iou(detect_faces(image), HOPPER_FACE) > 0.5


def _bad_files(tmp_path: Path, hopper: np.ndarray) -> dict[str, Path]:
    text = tmp_path / "notes.jpg"
    text.write_text("not an image, just a name ending in .jpg\n")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    whole = tmp_path / "whole.jpg"
    Image.fromarray(hopper).save(whole, quality=90)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return {"text": text, "empty": empty, "truncated": truncated}


@pytest.mark.parametrize("kind", ["text", "empty", "truncated"])
def test_unreadable_files_raise_an_error_naming_the_file(hopper, tmp_path, kind, monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", False)
    path = _bad_files(tmp_path, hopper)[kind]
    for function in (detect_faces, lambda p: crop_faces(p, [(0, 0, 10, 10)])):
        with pytest.raises(ImageReadError, match=path.name) as error:
            function(path)
        assert str(path) in str(error.value)


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.jpg"):
        detect_faces(tmp_path / "nowhere.jpg")


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="shape"):
        detect_faces(np.zeros((10, 10, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        detect_faces(np.full((10, 10), 3.0))
    with pytest.raises(TypeError):
        detect_faces(12)


def test_crop_faces_shape_dtype_and_values(hopper):
    boxes = detect_faces(hopper)
    faces = crop_faces(hopper, boxes)
    assert faces.shape == (len(boxes), 48, 48) and faces.dtype == np.uint8
    assert 0 <= faces.min() < faces.max() <= 255
    assert crop_faces(hopper, []).shape == (0, 48, 48)
    # margin 0 is the plain crop, resized (the filter also sees pixels just outside the box)
    x, y, w, h = boxes[0]
    gray = Image.fromarray(hopper).convert("L")
    plain = np.asarray(gray.crop((x, y, x + w, y + h)).resize((48, 48), Image.Resampling.LANCZOS))
    difference = np.abs(crop_faces(hopper, boxes[:1], margin=0)[0].astype(int) - plain)
    assert difference[2:-2, 2:-2].max() <= 1 and difference.mean() < 1
    # a larger margin zooms out: the same centre, more around it
    assert not np.array_equal(crop_faces(hopper, boxes[:1], margin=0.5)[0], plain)


def test_crop_faces_gray_levels_and_clipping():
    photo = np.zeros((100, 160, 3), dtype=np.uint8)
    photo[..., 1] = 255  # pure green: ITU-R 601 luma 0.587 * 255 = 149.7
    faces = crop_faces(photo, np.array([[0, 0, 40, 40], [130, 70, 30, 30]]), margin=0.4)
    assert faces.shape == (2, 48, 48)
    assert set(np.unique(faces)) == {150}  # the margin was clipped at the edges: no padding
    with pytest.raises(ValueError, match="outside"):
        crop_faces(photo, [(500, 500, 10, 10)])
    with pytest.raises(ValueError, match="positive"):
        crop_faces(photo, [(0, 0, 0, 10)])
    with pytest.raises(ValueError, match="margin"):
        crop_faces(photo, [(0, 0, 10, 10)], margin=-0.1)


def _check_frame(frame, n: int) -> None:
    assert list(frame.columns) == ["x", "y", "w", "h", *CLASSES]
    assert len(frame) == n
    probabilities = frame[list(CLASSES)].to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert (probabilities >= 0).all()


def test_predict_faces_with_a_backbone(hopper):
    from fer_course.models import build_backbone

    torch.manual_seed(0)
    model = build_backbone("resnet18").train()
    frame = predict_faces(hopper, model, image_size=32)
    _check_frame(frame, len(detect_faces(hopper)))
    assert frame["x"].dtype == np.int64
    assert tuple(frame.iloc[0][["x", "y", "w", "h"]]) == detect_faces(hopper)[0]
    assert model.training  # its mode is given back
    # given boxes, a blank photo: the same columns, no rows
    _check_frame(predict_faces(np.zeros((60, 60), np.uint8), model, image_size=32), 0)
    boxes = [(0, 0, 20, 20), (10, 10, 30, 30)]
    _check_frame(predict_faces(hopper, model, boxes=boxes, image_size=32), 2)


def test_predict_faces_with_run_folders(hopper, tmp_path):
    from fer_course.models import build_autoencoder, build_backbone
    from fer_course.runs.folder import RunFolder

    torch.manual_seed(0)
    backbone = RunFolder(tmp_path / "resnet18")
    backbone.path.mkdir()
    settings = {"recipe": "BackboneRecipe", "arch": "resnet18", "image_size": 32}
    backbone.save_checkpoint({"settings": settings,
                              "model": build_backbone("resnet18").state_dict()})
    unfinished = predict_faces(hopper, backbone.path, device="cpu")  # settings: checkpoint's
    _check_frame(unfinished, 1)
    backbone.write_metrics({"settings": settings})  # finished: settings from metrics.json
    assert predict_faces(hopper, backbone.path, device="cpu").equals(unfinished)
    with pytest.raises(ValueError, match="32 px"):
        predict_faces(hopper, backbone.path, image_size=64, device="cpu")
    loaded = load_model(backbone.path, device="cpu")  # loaded once, then passed on
    assert (loaded.image_size, loaded.is_autoencoder, loaded.gray_input) == (32, False, False)
    assert predict_faces(hopper, loaded).equals(unfinished)
    with pytest.raises(ValueError, match="32 px faces, not 64"):
        predict_faces(hopper, loaded, image_size=64)

    autoencoder = RunFolder(tmp_path / "multitask")
    autoencoder.path.mkdir()
    autoencoder.save_checkpoint({
        "settings": {"recipe": "AutoencoderRecipe", "task": "multitask", "latent_dim": 16},
        "model": build_autoencoder(16).state_dict()})
    _check_frame(predict_faces(hopper, str(autoencoder.path), device="cpu"), 1)
    _check_frame(predict_faces(hopper, build_autoencoder(16)), 1)

    # the best recipe's network: gray 48 px input, mirror-averaged scores
    from dataclasses import asdict

    from fer_course.models.small_cnn import SmallFaceNet
    from fer_course.runs.recipes import BestRecipe

    best = RunFolder(tmp_path / "best")
    best.path.mkdir()
    recipe = BestRecipe(widths=(4, 4, 8, 8))
    best.save_checkpoint({"settings": {"recipe": "BestRecipe", **asdict(recipe)},
                          "model": SmallFaceNet(widths=recipe.widths).state_dict()})
    loaded_best = load_model(best.path, device="cpu")
    assert (loaded_best.image_size, loaded_best.gray_input) == (48, True)
    _check_frame(predict_faces(hopper, loaded_best), 1)
    _check_frame(predict_faces(hopper, SmallFaceNet(widths=(4, 4, 8, 8))), 1)

    with pytest.raises(FileNotFoundError, match="empty-run"):
        predict_faces(hopper, tmp_path / "empty-run")


def test_show_faces(hopper):
    import matplotlib.pyplot as plt

    boxes = detect_faces(hopper)
    probabilities = np.full((len(boxes), 7), 1 / 7)
    fig = show_faces(hopper, boxes, probabilities)
    assert fig.get_size_inches()[0] <= 7.0
    assert len(fig.axes) == 1 + len(boxes)
    plt.close(fig)
    fig = show_faces(np.full((3000, 4000), 128, np.uint8), [])
    assert len(fig.axes) == 1
    plt.close(fig)
    # five faces: their charts three to a row (two rows), class names on the first column
    five = [(10 + 60 * i, 10, 50, 50) for i in range(5)]
    fig = show_faces(np.full((100, 320), 128, np.uint8), five, np.full((5, 7), 1 / 7))
    charts = fig.axes[1:]
    rows = sorted({round(ax.get_position().y0, 3) for ax in charts})
    assert len(charts) == 5 and len(rows) == 2
    named = [ax for ax in charts if ax.get_yticklabels()[0].get_text() == "Angry"]
    assert len(named) == 2 and fig.get_size_inches()[0] <= 7.0
    plt.close(fig)


@pytest.mark.realdata
@pytest.mark.slow
def test_detection_rate_on_fer2013_test_faces_in_photo_sized_images(real_data_path):
    """FER-2013 test faces x4 (192 px), each pasted into a 1024 x 768 noisy gray image."""
    from fer_course.data import load_fer2013
    from fer_course.faces.pasted_faces import detection_check

    faces = load_fer2013(real_data_path).test.images[:200].numpy()
    check = detection_check(faces)
    print(f"\nHaar detection rate on {check.faces} FER-2013 test faces (x4, in 1024 x 768 "
          f"noisy gray images): {check.rate:.1%}; boxes elsewhere: {check.boxes_elsewhere}")
    assert check.rate > 0.65
    assert check.boxes_elsewhere <= 0.05 * check.faces

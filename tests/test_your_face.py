"""A reader's own photo: bytes, uploads and the no-face message (``fer_course.faces.your_face``)."""

from __future__ import annotations

import datetime
import io

import numpy as np
import pytest
from PIL import Image

from fer_course.faces.detect import ImageReadError
from fer_course.faces.your_face import (
    NO_FACE_TIPS,
    colab_snapshot,
    describe_photo,
    photo_upload,
    read_photo_bytes,
)
from fer_course.models import build_backbone

pytest.importorskip("cv2")
pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def hopper_bytes() -> bytes:
    cbook = pytest.importorskip("matplotlib.cbook")
    try:
        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    except (OSError, ValueError):
        pytest.skip("matplotlib's sample data are not installed")
    with open(path, "rb") as file:
        return file.read()


@pytest.fixture(scope="module")
def model():
    return build_backbone("resnet18").eval()


def test_read_photo_bytes_honours_exif_rotation(hopper_bytes):
    upright = read_photo_bytes(hopper_bytes, "hopper.jpg")
    rotated = upright.rotate(90, expand=True)  # stored turned; EXIF says turn it back
    exif = Image.Exif()
    exif[0x0112] = 8  # Orientation: rotate 90 degrees counter-clockwise to display
    buffer = io.BytesIO()
    rotated.save(buffer, "JPEG", quality=95, exif=exif)
    assert read_photo_bytes(buffer.getvalue(), "turned.jpg").size == upright.size


@pytest.mark.parametrize("content, message", [
    (b"", "empty.jpg is empty"),
    (b"GIF89a not really", "cannot read empty.jpg as an image"),
    (b"plain text, no image here", "cannot read empty.jpg as an image"),
])
def test_bad_bytes_name_the_file(content, message):
    with pytest.raises(ImageReadError, match=message):
        read_photo_bytes(content, "empty.jpg")


def test_truncated_jpeg_names_the_file(hopper_bytes):
    with pytest.raises(ImageReadError, match="cut.jpg"):
        read_photo_bytes(hopper_bytes[: len(hopper_bytes) // 2], "cut.jpg")


def test_describe_photo_finds_hopper_and_gives_probabilities(hopper_bytes, model):
    table, fig = describe_photo(read_photo_bytes(hopper_bytes), model)
    assert len(table) == 1 and len(fig.axes) == 2  # the photo, and the one face's bars
    assert table.iloc[0, 4:].sum() == pytest.approx(1.0)
    # the box is on her face, as marked by hand (x, y, w, h; as in tests/test_faces.py)
    x, y, w, h = (int(v) for v in table.iloc[0, :4])
    fx, fy, fw, fh = 170, 130, 190, 200
    overlap = (max(0, min(x + w, fx + fw) - max(x, fx))
               * max(0, min(y + h, fy + fh) - max(y, fy)))
    assert overlap / (w * h + fw * fh - overlap) > 0.5


def test_no_face_says_what_to_try(model, capsys):
    table, fig = describe_photo(np.full((300, 400), 128, np.uint8), model)
    assert table.empty and fig is None
    assert NO_FACE_TIPS in capsys.readouterr().out


def test_photo_upload_shows_the_uploaded_photo(hopper_bytes, model, capsys):
    widget = photo_upload(model)
    upload, output = widget.children
    upload.set_trait("value", ({"name": "hopper.jpg", "type": "image/jpeg",
                                "size": len(hopper_bytes), "content": memoryview(hopper_bytes),
                                "last_modified": NOW},))
    # without a kernel the Output widget passes what the handler shows on to stdout
    shown = capsys.readouterr().out
    assert "Neutral" in shown and "155" in shown  # the table of the one face, with its box
    upload.set_trait("value", ({"name": "bad.png", "type": "image/png", "size": 3,
                                "content": memoryview(b"bad"), "last_modified": NOW},))
    assert "cannot read bad.png as an image" in capsys.readouterr().out


def test_colab_snapshot_outside_colab_says_what_to_do():
    with pytest.raises(RuntimeError, match="needs Google Colab"):
        colab_snapshot()


def test_label_comparison_of_a_model_that_always_answers_the_crowd() -> None:
    """Predicting the crowd's majority on every FER+ face: by construction accuracy 1 against
    FER+, the labels' agreement against FER-2013, and every FER-2013 error is the crowd's."""
    from fer_course.analysis.label_noise import label_comparison
    from fer_course.data import make_synthetic_fer
    from fer_course.data.ferplus import apply_ferplus_labels, synthetic_ferplus_votes

    data = make_synthetic_fer(14, 7, 28)
    plus = apply_ferplus_labels(data, synthetic_ferplus_votes(data))
    crowd = dict(zip(plus.test.rows.tolist(), plus.test.labels.tolist()))
    fer = dict(zip(data.test.rows.tolist(), data.test.labels.tolist()))
    rows = np.asarray(data.test.rows)
    probs = np.eye(8)[[crowd.get(int(r), 0) for r in rows]]  # FER+ adds Contempt
    table = label_comparison({"crowd": (probs, rows)}, data, plus)
    row = table.loc["crowd"]
    differ = sum(crowd[r] != fer[r] for r in crowd)
    assert row["faces"] == len(crowd) and row["left_out"] == len(rows) - len(crowd)
    assert row["accuracy_ferplus"] == 1.0 and row["errors_fer2013"] == differ
    assert row["accuracy_fer2013"] == pytest.approx(1 - differ / len(crowd))
    assert row["labels_agree"] == pytest.approx(1 - differ / len(crowd))
    assert differ == 0 or row["errors_matching_crowd"] == 1.0
    assert {table[c].dtype.kind for c in ("faces", "left_out", "errors_fer2013")} == {"i"}

"""Chapter 6's three ways in for a reader's own photo: a file, an upload, a webcam frame.

``read_photo_bytes`` turns uploaded or captured bytes into an upright photo (errors name
the file); ``describe_photo`` finds the faces, classifies them and draws them, or says
that no face was found and what to try; ``photo_upload`` is an ipywidgets upload button
that does the same; ``colab_snapshot`` takes one webcam frame in Google Colab.

>>> import io
>>> buffer = io.BytesIO(); Image.new("RGB", (40, 30), "gray").save(buffer, "PNG")
>>> read_photo_bytes(buffer.getvalue(), "gray.png").size
(40, 30)
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from fer_course.faces.detect import (
    ImageInput,
    ImageReadError,
    load_photo,
    predict_faces,
    show_faces,
)

if TYPE_CHECKING:
    import ipywidgets
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["NO_FACE_TIPS", "colab_snapshot", "describe_photo", "photo_upload",
           "read_photo_bytes"]

NO_FACE_TIPS = ("No face found. The detector looks for upright, frontal faces of at least "
                "30 px: try a photo where the face looks at the camera, is not tilted, is "
                "evenly lit and fills more of the frame (or crop the photo around it).")


def read_photo_bytes(content: bytes, name: str = "upload") -> Image.Image:
    """The upright photo in ``content`` (a whole image file's bytes); ``ImageReadError``
    naming ``name`` if it is not a readable image."""
    if not content:
        raise ImageReadError(f"{name} is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(content)) as opened:
            opened.load()
            return load_photo(opened)  # applies the EXIF orientation
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageReadError(f"cannot read {name} as an image "
                             f"({type(error).__name__}: {error})") from error


def describe_photo(image: ImageInput, model: Any, *, margin: float = 0.2,
                   boxes: Any = None) -> tuple[pd.DataFrame, Figure | None]:
    """``predict_faces`` and ``show_faces`` in one: the table of faces (box and the
    probabilities) and the figure; when there is no face, prints ``NO_FACE_TIPS`` and
    returns the empty table and ``None``."""
    table = predict_faces(image, model, boxes=boxes, margin=margin)
    if table.empty:
        print(NO_FACE_TIPS)
        return table, None
    return table, show_faces(image, probabilities=table)


def photo_upload(model: Any, margin: float = 0.2) -> ipywidgets.Widget:
    """An upload button; each photo uploaded is shown with its faces and probabilities."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    upload = widgets.FileUpload(accept="image/*", multiple=False, description="photo")
    output = widgets.Output()

    def on_upload(change: dict) -> None:
        if not change["new"]:
            return
        item = change["new"][0]
        output.clear_output(wait=True)
        with output:
            try:
                photo = read_photo_bytes(bytes(item["content"]), item["name"])
            except ImageReadError as error:
                print(error)
                return
            table, fig = describe_photo(photo, model, margin=margin)
            if fig is not None:
                display(table.round(3))
                plt.show()

    upload.observe(on_upload, names="value")
    return widgets.VBox([upload, output])


_SNAPSHOT_JS = """
async function snapshot(quality) {
  const box = document.createElement('div');
  const button = document.createElement('button');
  button.textContent = 'Take the photo';
  const video = document.createElement('video');
  video.style.display = 'block';
  const stream = await navigator.mediaDevices.getUserMedia({video: true});
  box.appendChild(video);
  box.appendChild(button);
  document.body.appendChild(box);
  video.srcObject = stream;
  await video.play();
  google.colab.output.setIframeHeight(document.documentElement.scrollHeight, true);
  await new Promise((resolve) => button.onclick = resolve);
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  stream.getVideoTracks()[0].stop();
  box.remove();
  return canvas.toDataURL('image/jpeg', quality);
}
"""


def colab_snapshot(path: str | Path = "webcam.jpg", quality: float = 0.9) -> Path:
    """Show the webcam in a Colab cell, wait for the button, save the frame as a JPEG at
    ``path`` and return it. Only in Google Colab (the browser asks for the camera)."""
    if "google.colab" not in sys.modules:
        raise RuntimeError("colab_snapshot needs Google Colab; elsewhere pass a photo file "
                           "as image_path or use photo_upload")
    from google.colab.output import eval_js  # type: ignore[import-not-found]
    from IPython.display import Javascript, display

    display(Javascript(_SNAPSHOT_JS))
    data_url = eval_js(f"snapshot({float(quality)})")
    path = Path(path)
    path.write_bytes(base64.b64decode(data_url.split(",", 1)[1]))
    return path

"""The live page ("Try it on your face") in a real browser, as a reader uses it.

The built site (``FER_SITE_HTML``, set by ``.ci/run`` after the book build) is served on
127.0.0.1 and opened in headless Chromium (Debian's ``chromium`` and ``chromium-driver``);
skipped without them. Photos are uploaded through the page's own file control and the
page's answer is read back from it: boxes must equal ``fer_course.predict``'s and the
probabilities agree within 0.01, on real photos (several faces, none, a face turned to
the side, a large photo, a phone photo stored on its side); bad files get a message and
the page keeps working. A video file stands in for the camera (Chromium's fake capture),
and the boxes must follow the face across it. Without WebAssembly, or with the camera
refused, the page says so and photos still work.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SITE = Path(os.environ["FER_SITE_HTML"]).resolve() if os.environ.get("FER_SITE_HTML") else None
if SITE is None or not (SITE / "book").is_dir():
    pytest.skip("FER_SITE_HTML does not name a built site", allow_module_level=True)
if not (SITE / "_static" / "demo" / "model.onnx").is_file():
    pytest.skip("the built site has no live page files (_static/demo/model.onnx)",
                allow_module_level=True)
if not (shutil.which("chromium") and shutil.which("chromedriver")):
    pytest.skip("no chromium and chromedriver here", allow_module_level=True)
pytest.importorskip("selenium")
skimage_data = pytest.importorskip("skimage.data")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from site_screenshots import browser, wait_until  # noqa: E402

from fer_course import predict  # noqa: E402
from fer_course.data.types import CLASSES  # noqa: E402

PAGE = "book/try_it.html"
TOLERANCE = 0.01  # the agreement between the page and Python, per probability


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".mjs": "text/javascript", ".js": "text/javascript",
                      ".wasm": "application/wasm", ".onnx": "application/octet-stream"}

    def log_message(self, *args) -> None:  # keep the test output readable
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """``folder`` served on 127.0.0.1 (a free port) while the block runs; its address."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def site_url():
    with serve(SITE) as url:
        yield url


def chromium(*flags: str, prefs: dict | None = None):
    """``site_screenshots.browser`` in a 1280 x 1000 window."""
    driver = browser(*flags, prefs=prefs)
    driver.set_window_size(1280, 1000)
    return driver


# --------------------------------------------------------------------------- photos


def hopper_path() -> Path:
    """Grace Hopper's portrait (public domain), which matplotlib ships, 512 x 600 JPEG."""
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    return make_photos(tmp_path_factory.mktemp("photos"))


def make_photos(folder: Path) -> dict[str, Path]:
    """Real photos (matplotlib's Grace Hopper, scikit-image's astronaut and cameraman), what
    is made of them, and bad files, written into ``folder``; nothing is committed."""
    hopper = Image.open(hopper_path())
    hopper.load()
    astronaut = Image.fromarray(skimage_data.astronaut())
    shutil.copy(hopper_path(), folder / "hopper.jpg")
    astronaut.save(folder / "astronaut.png")
    group = Image.new("RGB", (1500, 700), (120, 130, 140))  # three faces, three sizes
    group.paste(hopper.resize((384, 450)), (40, 120))
    group.paste(astronaut.resize((500, 500)), (470, 100))
    group.paste(hopper.resize((256, 300)).transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                (1080, 250))
    group.save(folder / "group.png")
    Image.fromarray(skimage_data.camera()).save(folder / "profile.png")  # a turned head
    y, x = np.mgrid[0:400, 0:600]
    Image.fromarray(((x + y) * 255 // 1000).astype(np.uint8)).save(folder / "none.png")
    hopper.resize((2731, 3200), Image.Resampling.BICUBIC).save(folder / "large.jpg",
                                                                quality=92)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: stored on its side, shown turned 90 degrees clockwise
    hopper.transpose(Image.Transpose.ROTATE_90).save(folder / "sideways.jpg", quality=95,
                                                     exif=exif)
    (folder / "notes.jpg").write_text("these are notes, not a photo\n")
    (folder / "empty.png").write_bytes(b"")
    Image.new("1", (10_000, 6_000)).save(folder / "huge.png")  # 60 megapixels, 70 KB
    return {p.stem: p for p in folder.iterdir()}


def python_answer(photo: Path) -> tuple[list[list[int]], np.ndarray]:
    table = predict(photo)
    return table[["x", "y", "w", "h"]].to_numpy().tolist(), table[list(CLASSES)].to_numpy()


# --------------------------------------------------------------------------- the page

READ = """
const root = document.getElementById('fer-demo');
const faces = [...root.querySelectorAll('li.fer-face')].map((li) => ({
  box: li.dataset.box.split(',').map(Number),
  probabilities: li.dataset.probabilities
    ? li.dataset.probabilities.split(',').map(Number) : null,
  text: li.innerText}));
return JSON.stringify({state: root.dataset.state,
  status: root.querySelector('.fer-demo-status').textContent, faces,
  fps: root.dataset.fps || null, frames: Number(root.dataset.frames || 0),
  size: root.querySelector('.fer-demo-size').textContent});
"""


def read_page(driver) -> dict:
    return json.loads(driver.execute_script(READ))


def open_page(driver, site_url: str) -> None:
    driver.get(site_url + PAGE)
    wait_until(driver, "return document.readyState === 'complete' && "
                       "document.getElementById('fer-demo') !== null")


def upload(driver, photo: Path, timeout: float = 120) -> dict:
    """Choose ``photo`` in the page's file control; the page's answer once it has one."""
    from selenium.webdriver.common.by import By

    driver.execute_script("document.getElementById('fer-demo').dataset.state = 'sent';"
                          "document.querySelector('#fer-demo input[type=file]').value = '';")
    driver.find_element(By.CSS_SELECTOR, "#fer-demo input[type=file]").send_keys(str(photo))
    wait_until(driver, "const s = document.getElementById('fer-demo').dataset.state;"
                       "return s === 'ready' || s === 'error';", timeout)
    return read_page(driver)


@pytest.fixture(scope="module")
def page(site_url):
    driver = chromium()
    open_page(driver, site_url)
    yield driver
    driver.quit()


def test_nothing_heavy_loads_before_the_reader_starts(page) -> None:
    loaded = page.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name);")
    assert not [u for u in loaded if u.endswith((".onnx", ".wasm", "cascade.json"))]
    shown = read_page(page)
    assert shown["state"] == "idle"
    assert "MB" in shown["size"], shown["size"]  # the download size, from demo.json


@pytest.mark.parametrize("name", ["hopper", "astronaut", "group", "profile", "none", "large",
                                  "sideways"])
def test_the_page_gives_pythons_answer(page, photos, name: str) -> None:
    boxes, probabilities = python_answer(photos[name])
    shown = upload(page, photos[name])
    assert shown["state"] == "ready", shown["status"]
    assert [face["box"] for face in shown["faces"]] == boxes
    if name == "group":
        assert len(boxes) >= 2, "the group photo must hold several faces for Python too"
    if boxes:
        got = np.array([face["probabilities"] for face in shown["faces"]])
        assert np.abs(got - probabilities).max() <= TOLERANCE
        assert CLASSES[int(probabilities[0].argmax())] in shown["faces"][0]["text"]
    else:
        assert "No face found" in shown["status"]


@pytest.mark.parametrize(("name", "message"), [
    ("notes", "not an image"), ("empty", "empty"), ("huge", "megapixels")])
def test_a_bad_file_gets_a_message_and_the_page_goes_on(page, photos, name, message) -> None:
    shown = upload(page, photos[name])
    assert shown["state"] == "error"
    assert message in shown["status"] and photos[name].name in shown["status"]
    assert upload(page, photos["hopper"])["state"] == "ready"


def test_every_file_comes_from_the_site_itself(page, site_url) -> None:
    """No CDN: every resource the page fetched is served by the site."""
    loaded = page.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name);")
    assert any(u.endswith("model.onnx") for u in loaded)
    assert [u for u in loaded if not u.startswith(site_url)] == []


def test_other_pages_do_not_load_the_live_section() -> None:
    for html in (SITE / "book").glob("*.html"):
        if html.name != "try_it.html":
            assert "demo/page.js" not in html.read_text(encoding="utf-8"), html.name


@pytest.mark.parametrize("width", [1280, 390])
def test_the_result_fits_the_screen(page, photos, width: int) -> None:
    page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    try:
        assert upload(page, photos["group"])["state"] == "ready"
        sizes = page.execute_script(
            "const v = document.querySelector('#fer-demo canvas').getBoundingClientRect();"
            "return [document.documentElement.scrollWidth, v.width, v.right];")
        assert sizes[0] <= width and sizes[1] > 0 and sizes[2] <= width
    finally:
        page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


# --------------------------------------------------------------------------- the camera


def write_y4m(path: Path, frames: list[Image.Image], fps: int = 10) -> Path:
    """A raw YUV 4:2:0 video Chromium can play as its fake camera."""
    width, height = frames[0].size
    with open(path, "wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            y, cb, cr = (np.asarray(c, dtype=np.float64) for c in frame.convert("YCbCr").split())
            chroma = [c.reshape(height // 2, 2, width // 2, 2).mean((1, 3)).round()
                      .astype(np.uint8) for c in (cb, cr)]
            handle.write(b"FRAME\n" + y.astype(np.uint8).tobytes()
                         + chroma[0].tobytes() + chroma[1].tobytes())
    return path


@pytest.fixture(scope="module")
def camera_video(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """Two seconds, looped by Chromium: the astronaut's face on the left for one second,
    then on the right."""
    face = Image.fromarray(skimage_data.astronaut()).crop((120, 20, 320, 220))
    frames, centres = [], {}
    for side, left in (("left", 40), ("right", 400)):
        frame = Image.new("RGB", (640, 480), (110, 120, 130))
        frame.paste(face, (left, 140))
        frames += [frame] * 10
        centres[side] = left + 100
    return write_y4m(tmp_path_factory.mktemp("camera") / "camera.y4m", frames), centres


def test_the_camera_boxes_follow_the_face(site_url, camera_video) -> None:
    video, centres = camera_video
    driver = chromium("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                      f"--use-file-for-fake-video-capture={video}")
    try:
        open_page(driver, site_url)
        driver.execute_script("document.querySelector('#fer-demo .fer-demo-camera').click();")
        wait_until(driver, "return Number(document.getElementById('fer-demo').dataset.frames"
                           " || 0) >= 3;", 120)
        seen = set()
        end = time.monotonic() + 8
        while time.monotonic() < end and len(seen) < 2:
            for face in read_page(driver)["faces"]:
                x, _, w, _ = face["box"]
                side = min(centres, key=lambda s: abs(centres[s] - (x + w / 2)))
                assert abs(centres[side] - (x + w / 2)) < 60, face["box"]
                assert face["probabilities"] and any(c in face["text"] for c in CLASSES)
                seen.add(side)
            time.sleep(0.1)
        assert seen == {"left", "right"}
        shown = read_page(driver)
        assert shown["frames"] >= 3 and float(shown["fps"]) > 0
        driver.execute_script("document.querySelector('#fer-demo .fer-demo-camera').click();")
        assert "stopped" in read_page(driver)["status"]
    finally:
        driver.quit()


@pytest.mark.parametrize(("case", "message"), [("refused", "The camera was refused"),
                                              ("missing", "No camera was found")])
def test_a_camera_problem_is_explained_and_photos_still_work(site_url, photos, case,
                                                               message) -> None:
    """A camera the reader refuses (a fake one, its permission blocked), or none at all."""
    if case == "refused":
        driver = chromium("--use-fake-device-for-media-stream", prefs={
            "profile.default_content_setting_values.media_stream_camera": 2})
    else:
        driver = chromium()
    try:
        open_page(driver, site_url)
        driver.execute_script("document.querySelector('#fer-demo .fer-demo-camera').click();")
        wait_until(driver, "return document.getElementById('fer-demo').dataset.state"
                           " === 'error';", 120)
        status = read_page(driver)["status"]
        assert message in status and "Photos still work" in status, status
        assert upload(driver, photos["hopper"])["faces"][0]["probabilities"]
    finally:
        driver.quit()


def test_without_webassembly_faces_are_still_boxed(site_url, photos) -> None:
    driver = chromium("--js-flags=--jitless")  # V8 without a compiler has no WebAssembly
    try:
        open_page(driver, site_url)
        assert "WebAssembly" in read_page(driver)["status"]
        shown = upload(driver, photos["hopper"])
        assert shown["state"] == "ready" and "WebAssembly" in shown["status"]
        assert [face["box"] for face in shown["faces"]] == python_answer(photos["hopper"])[0]
        assert all(face["probabilities"] is None for face in shown["faces"])
    finally:
        driver.quit()

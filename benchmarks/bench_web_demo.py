"""How fast the live page ("Try it on your face") is in headless Chromium on this machine.

Run by hand after the book build (``npm ci && jupyter-book build .``), with Debian's
``chromium`` and ``chromium-driver``:

    python benchmarks/bench_web_demo.py --site _build/html --seconds 20

It serves the built site on 127.0.0.1, uploads the browser tests' photos
(``tests/test_site_demo.py``) and compares the page's boxes and probabilities with
``fer_course.predict``'s; plays a looped 640 x 480 video with one face as the
camera (Chromium's fake capture) for ``--seconds``, and reads the page's own count of frames
a second and its detector and network times; then uploads photos (one face, three faces, a
3,200 px photo) and times each answer. Headless Chromium draws without a GPU, so a laptop's
browser is no slower. Results go to ``benchmarks/results/web-demo-<machine>.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default="_build/html")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    import os

    os.environ["FER_SITE_HTML"] = str(Path(args.site).resolve())
    import skimage.data
    import test_site_demo as page_test  # the tests' server, browser and video helpers

    from fer_course.atomic import atomic_write_text
    from fer_course.devices import describe_device, machine_tag

    site = page_test.SITE
    manifest = json.loads((site / "_static" / "demo" / "demo.json").read_text())
    stack = contextlib.ExitStack()  # the server stops with the browser, whatever happens
    server_url = stack.enter_context(page_test.serve(site))
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "bench_web_demo"
    work.mkdir(exist_ok=True)

    face = Image.fromarray(skimage.data.astronaut()).crop((120, 20, 320, 220))
    frame = Image.new("RGB", (640, 480), (110, 120, 130))
    frame.paste(face, (220, 140))
    video = page_test.write_y4m(work / "camera.y4m", [frame] * 10)
    driver = page_test.chromium("--use-fake-ui-for-media-stream",
                                "--use-fake-device-for-media-stream",
                                f"--use-file-for-fake-video-capture={video}")
    rows = []
    load = os.getloadavg()[0]  # other work on the cores slows the page: say how much there was
    try:
        page_test.open_page(driver, server_url)
        driver.execute_script("document.querySelector('#fer-demo .fer-demo-camera').click();")
        page_test.wait_until(driver, "return Number(document.getElementById('fer-demo')"
                                     ".dataset.frames || 0) >= 3;", 120)
        start = json.loads(driver.execute_script(
            "const d = document.getElementById('fer-demo').dataset;"
            "return JSON.stringify([Number(d.frames), performance.now()]);"))
        detector, network = [], []
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            data = driver.execute_script("return {...document.getElementById('fer-demo')"
                                         ".dataset};")
            detector.append(float(data["detectorMs"]))
            network.append(float(data["networkMs"]))
            time.sleep(0.25)
        stop = json.loads(driver.execute_script(
            "const d = document.getElementById('fer-demo').dataset;"
            "return JSON.stringify([Number(d.frames), performance.now()]);"))
        fps = (stop[0] - start[0]) / ((stop[1] - start[1]) / 1000)
        rows.append(f"| camera, 640 x 480, one face | {fps:.1f} frames/s | detector "
                    f"{np.median(detector):.0f} ms, network {np.median(network):.0f} ms "
                    f"(medians) |")
        driver.execute_script("document.querySelector('#fer-demo .fer-demo-camera').click();")

        agreement = []
        photos = page_test.make_photos(work)
        for name in ("hopper", "astronaut", "group", "profile", "none", "large", "sideways"):
            boxes, expected = page_test.python_answer(photos[name])
            shown = page_test.upload(driver, photos[name])
            same = [face["box"] for face in shown["faces"]] == boxes
            got = np.array([face["probabilities"] for face in shown["faces"]])
            gap = float(np.abs(got - expected).max()) if boxes and same else float("nan")
            shown_gap = f"{gap:.1e}" if boxes else "no face"
            agreement.append(f"| {photos[name].name} | {len(boxes)} | "
                             f"{'same' if same else 'DIFFERENT'} | {shown_gap} |")

        hopper = Image.open(page_test.hopper_path())
        hopper.save(work / "hopper.png")
        group = Image.new("RGB", (1500, 700), (120, 130, 140))
        for i, x in enumerate((40, 540, 1040)):
            group.paste(hopper.resize((384 - 60 * i, 450 - 70 * i)), (x, 120))
        group.save(work / "group.png")
        hopper.resize((2731, 3200)).save(work / "large.jpg", quality=92)
        for name in ("hopper.png", "group.png", "large.jpg"):
            times = []
            for _ in range(3):
                started = time.perf_counter()
                shown = page_test.upload(driver, work / name)
                times.append(time.perf_counter() - started)
            size = Image.open(work / name).size
            rows.append(f"| photo {name}, {size[0]} x {size[1]} | {np.median(times):.2f} s to "
                        f"the answer (median of 3) | {len(shown['faces'])} "
                        f"face{'' if len(shown['faces']) == 1 else 's'} |")
    finally:
        driver.quit()
        stack.close()

    text = "\n".join([
        f"# The live page in headless Chromium ({date.today()})", "",
        f"Machine: {describe_device('cpu')}; {manifest['runtime']} (WebAssembly, one thread); "
        f"network `{manifest['network']}`; the page's files {manifest['bytes'] / 1e6:.1f} MB; "
        f"load average {load:.1f} when it started.",
        "", "| input | speed | detail |", "| --- | --- | --- |", *rows, "",
        "The page against `fer_course.predict` on the browser tests' photos (largest "
        "difference of any probability):", "",
        "| photo | faces (Python) | boxes | largest difference |", "| --- | --- | --- | --- |",
        *agreement, ""])
    out = atomic_write_text(RESULTS / f"web-demo-{machine_tag()}.md", text)
    print(text)
    print(f"written: {out}")


if __name__ == "__main__":
    main()

"""The course as a user installs it: a wheel built from the repository, installed into a fresh
virtualenv, used from a folder outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from fer_course.runs.store import shipped_weights

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # a copy of the files git sees (tracked, or new and not ignored): a fresh clone's tree,
    # and the build leaves nothing in the checkout
    source = out / "source"
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT)
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((ROOT / name).read_bytes())
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out / "dist"), str(source)], out)
    (built,) = (out / "dist").glob("fer_course-*.whl")
    return built


@pytest.fixture(scope="module")
def venv_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed; torch and the other dependencies are
    this environment's, reached through a .pth line (no download)."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    run([sys.executable, "-m", "venv", str(env_dir)], env_dir.parent)
    python = env_dir / "bin" / "python"
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                     "['purelib'])"], env_dir).strip())
    (site / "reuse_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        env_dir)
    return python


def test_wheel_holds_the_shipped_weights_and_no_predictions(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n for n in names if n.startswith("fer_course/shipped/")}
    expected = {f"fer_course/shipped/{profile}/{name}/{f}"
                for name, profile in shipped_weights().items()
                for f in ("weights.pt", "weights.json", "metrics.json")}
    assert expected and expected <= shipped
    assert not any(n.split("/")[2].endswith("-ablation") for n in shipped)  # kept, not shipped
    assert not any(n.endswith("predictions.npz") for n in names)
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Requires-Dist: torch>=2.4" in metadata
    assert "Requires-Dist: papermill>=2.5; extra == \"batch\"" in metadata


def test_installed_wheel_classifies_a_photo_outside_the_checkout(
        venv_python: Path, tmp_path: Path) -> None:
    import matplotlib.cbook

    photo = tmp_path / "hopper.jpg"
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        photo.write_bytes(f.read())
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FER_COURSE") and k != "PYTHONPATH"}
    env["HOME"] = str(tmp_path)  # no ~/fer-course of this machine's user
    script = ("import json, fer_course, fer_course.home as h; "
              "m = fer_course.load_pretrained('best'); "
              "t = fer_course.predict('hopper.jpg'); "
              "print(json.dumps({'file': fer_course.__file__, 'results': str(h.results_root()),"
              " 'faces': len(t), 'label': t.label[0], 'sum': float(t[list(fer_course.CLASSES)]"
              ".sum(axis=1)[0])}))")
    found = json.loads(run([str(venv_python), "-c", script], tmp_path, env).strip())
    assert not found["file"].startswith(str(ROOT)) and "site-packages" in found["file"]
    assert found["results"].endswith(os.path.join("fer_course", "shipped"))
    assert found["faces"] == 1 and found["sum"] == pytest.approx(1.0)
    table = run([str(venv_python), "-m", "fer_course", "predict", "hopper.jpg"], tmp_path, env)
    assert table.startswith("hopper.jpg: 1 face") and found["label"] in table
    viewed = run([str(venv_python), "-m", "fer_course", "predict", "hopper.jpg", "--views",
                  "scale3"], tmp_path, env)
    assert viewed.startswith("hopper.jpg: 1 face") and viewed != table
    help_text = run([str(venv_python), "-m", "fer_course", "batch", "--help"], tmp_path, env)
    assert "--cluster" in help_text
    script = venv_python.parent / "fer-course"  # the console script
    assert "best  classifier" in run([str(script), "models"], tmp_path, env)


def test_installed_wheel_writes_the_live_page(venv_python: Path, tmp_path: Path) -> None:
    """``export-web`` from an installed wheel: the page's scripts ship as package data."""
    runtime = tmp_path / "onnxruntime-web" / "dist"
    runtime.mkdir(parents=True)
    from fer_course.ops.web_demo import PAGE_FILES, RUNTIME_FILES

    for name in RUNTIME_FILES:
        (runtime / name).write_text("stand-in for the npm package's file")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FER_COURSE") and k != "PYTHONPATH"}
    env["HOME"] = str(tmp_path)
    printed = run([str(venv_python), "-m", "fer_course", "export-web", "site",
                   "--runtime", str(runtime)], tmp_path, env)
    assert "model.onnx" in printed
    for name in (*PAGE_FILES, "model.onnx", "cascade.json", "demo.json"):
        assert (tmp_path / "site" / name).stat().st_size > 0, name
    assert (tmp_path / "site" / "page.js").read_bytes() == (
        ROOT / "fer_course" / "web" / "page.js").read_bytes()

"""A run folder: the files one run leaves behind, read and written in one place.

The same class reads a local run (``runs/<profile>/<name>/``, with its checkpoint) and a
committed summary (``results/<profile>/<name>/``, with shipped weights where a chapter
draws from them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from fer_course.atomic import atomic_open, atomic_write_json, atomic_write_text
from fer_course.home import runs_root


class WeightsError(ValueError):
    """Shipped weights that do not match their recorded checksum, or are missing."""


class RunFolder:
    """The files one run leaves behind, read and written in one place.

    ``checkpoint.pt`` (local runs: after every epoch), ``history.csv`` (one row per epoch),
    ``predictions.npz`` (val/test probabilities and csv rows; a local run keeps its labels
    too), ``run_card.json``, ``metrics.json`` (written last: its presence marks a finished
    run), and for the few committed runs a chapter draws from, ``weights.pt`` (the model in
    half precision) with ``weights.json`` (its sha256).

    >>> import tempfile
    >>> run = RunFolder(Path(tempfile.mkdtemp()) / "resnet18")
    >>> run.is_finished(), run.has_weights()
    (False, False)
    """

    CHECKPOINT = "checkpoint.pt"
    HISTORY = "history.csv"
    METRICS = "metrics.json"
    PREDICTIONS = "predictions.npz"
    CARD = "run_card.json"
    WEIGHTS = "weights.pt"
    WEIGHTS_INFO = "weights.json"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({self.path.name!r})"

    @property
    def name(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    def is_finished(self) -> bool:
        return self.file(self.METRICS).is_file()

    def save_checkpoint(self, state: dict[str, Any]) -> Path:
        """``torch.save`` through a temporary file and a rename: a kill never corrupts it."""
        with atomic_open(self.file(self.CHECKPOINT), "wb") as f:
            torch.save(state, f)
        return self.file(self.CHECKPOINT)

    def load_checkpoint(self, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
        """The last checkpoint (tensors and plain values only), or ``None`` if there is none."""
        target = self.file(self.CHECKPOINT)
        if not target.is_file():
            return None
        return torch.load(target, map_location=map_location, weights_only=True)

    def has_weights(self) -> bool:
        """Whether trained weights are here: a checkpoint or shipped weights."""
        return self.file(self.CHECKPOINT).is_file() or self.file(self.WEIGHTS).is_file()

    def load_weights(self, map_location: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        """The model's state dict in float32: from the checkpoint where there is one, else
        from the shipped half-precision weights after checking their sha256."""
        checkpoint = self.load_checkpoint(map_location)
        if checkpoint is not None:
            return checkpoint["model"]
        target = self.file(self.WEIGHTS)
        if not target.is_file():
            raise WeightsError(f"{self.path} holds no weights (no {self.CHECKPOINT} and no "
                               f"{self.WEIGHTS}): train the run to get them")
        info = json.loads(self.file(self.WEIGHTS_INFO).read_text())
        digest = sha256_of(target)
        if digest != info["sha256"]:
            raise WeightsError(f"{target}: sha256 {digest[:12]}… differs from the recorded "
                               f"{info['sha256'][:12]}… in {self.WEIGHTS_INFO}; the file is "
                               "damaged or was replaced (a git LFS pointer?)")
        state = torch.load(target, map_location=map_location, weights_only=True)
        return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}

    def save_half_weights(self, state: dict[str, torch.Tensor]) -> Path:
        """Write ``state`` (a model's state dict) as ``weights.pt`` in float16 and record its
        sha256 in ``weights.json``; both atomically."""
        half = {k: (v.detach().to("cpu", torch.float16) if v.is_floating_point()
                    else v.detach().cpu()) for k, v in state.items()}
        with atomic_open(self.file(self.WEIGHTS), "wb") as f:
            torch.save(half, f)
        target = self.file(self.WEIGHTS)
        atomic_write_json(self.file(self.WEIGHTS_INFO), {
            "file": self.WEIGHTS, "sha256": sha256_of(target), "dtype": "float16",
            "bytes": target.stat().st_size,
            "parameters": int(sum(v.numel() for v in half.values() if v.is_floating_point()))})
        return target

    def write_history(self, rows: list[dict[str, Any]]) -> Path:
        import pandas as pd

        return atomic_write_text(self.file(self.HISTORY), pd.DataFrame(rows).to_csv(index=False))

    def read_history(self):
        """``history.csv`` as a DataFrame (one row per finished epoch)."""
        import pandas as pd

        return pd.read_csv(self.file(self.HISTORY))

    def write_metrics(self, metrics: dict[str, Any]) -> Path:
        return atomic_write_json(self.file(self.METRICS), metrics)

    def read_metrics(self) -> dict[str, Any]:
        return json.loads(self.file(self.METRICS).read_text())

    def training_seconds(self) -> float:
        """Seconds the run trained: its recorded wall time, or its epochs' seconds summed
        where that is larger (a resumed run's wall time counts its last process); 0 where
        neither file is there yet."""
        seconds = 0.0
        if self.file(self.METRICS).is_file():
            seconds = float(self.read_metrics().get("wall_time_s") or 0)
        if self.file(self.HISTORY).is_file():
            history = self.read_history()
            if "seconds" in history:
                seconds = max(seconds, float(history["seconds"].sum()))
        return seconds

    def read_settings(self) -> dict[str, Any]:
        """The run's identity (recipe fields and data) as its metrics record it."""
        return self.read_metrics().get("settings", {})

    def write_predictions(self, **arrays: Any) -> Path:
        """Save arrays such as ``val_probs``, ``val_rows``, ``test_probs``, ``test_labels``."""
        import numpy as np

        with atomic_open(self.file(self.PREDICTIONS), "wb") as f:
            np.savez_compressed(f, **arrays)
        return self.file(self.PREDICTIONS)

    @classmethod
    def predictions_name(cls, views: str | None = None) -> str:
        """The file of the run's predictions: as it scored, or over the test-time view set
        ``views`` (``models.view_averaging``).

        >>> RunFolder.predictions_name(), RunFolder.predictions_name("scale3")
        ('predictions.npz', 'predictions.scale3.npz')
        """
        return cls.PREDICTIONS if views is None else f"predictions.{views}.npz"

    def read_predictions(self, data: Any = None, views: str | None = None) -> dict[str, Any]:
        """The saved probabilities and csv rows (over the view set ``views`` where given).
        Labels: those saved (a local run), else, with ``data`` (the loaded ``FERData``),
        looked up by csv row (a committed summary keeps none); without either, no labels."""
        import numpy as np

        target = self.file(self.predictions_name(views))
        if not target.is_file():
            raise FileNotFoundError(f"{self.path} has no {target.name}: not a finished "
                                    "run, or a summary committed without those predictions")
        with np.load(target) as z:
            out = {k: z[k] for k in z.files}
        if data is not None:
            for split in ("val", "test"):
                if f"{split}_labels" not in out:
                    from fer_course.data.types import require_csv_rows

                    require_csv_rows(data, f"the stored predictions of {self.path.name}")
                    out[f"{split}_labels"] = labels_by_row(
                        getattr(data, split), out[f"{split}_rows"], f"{self.path} ({split})")
        return out


def labels_by_row(split: Any, rows: Any, where: str) -> Any:
    """The labels of ``split`` (a ``Split``) at csv ``rows``; an unknown row is an error.

    >>> from fer_course.data import make_synthetic_fer
    >>> test = make_synthetic_fer(14, 7, 7).test
    >>> bool((labels_by_row(test, test.rows[::-1], "demo") == test.labels.numpy()[::-1]).all())
    True
    """
    import numpy as np

    position = {int(r): i for i, r in enumerate(np.asarray(split.rows))}
    missing = [int(r) for r in rows if int(r) not in position]
    if missing:
        raise ValueError(f"{where}: {len(missing)} rows are not in the loaded data (first: "
                         f"{missing[0]}); load the same FER-2013 the run was made on")
    return split.labels.numpy()[[position[int(r)] for r in rows]]


def sha256_of(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_runs(runs_dir: str | os.PathLike, setting: str | None = None) -> list[RunFolder]:
    """Every finished run directly under ``runs_dir``, sorted by name; with ``setting``,
    only runs whose settings have that key (``"arch"``: the backbone runs of ``fit``)."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    runs = [RunFolder(p) for p in sorted(root.iterdir()) if RunFolder(p).is_finished()]
    if setting is not None:
        runs = [r for r in runs if setting in r.read_metrics().get("settings", {})]
    return runs


def default_runs_dir(profile_name: str) -> Path:
    """``<runs root>/<profile>``: ``$FER_COURSE_RUNS_DIR/<profile>`` if that variable is set,
    else ``runs/<profile>`` under the course's home (``fer_course.home``), wherever the
    command or notebook runs from.

    >>> default_runs_dir("smoke").name
    'smoke'
    """
    return runs_root() / profile_name

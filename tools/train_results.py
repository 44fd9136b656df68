"""Train the runs the book shows, one after another, and store each summary in results/.

Resumable: a finished run is loaded, an interrupted one continues. Run it in the
background on the real FER-2013, e.g.

    nohup python tools/train_results.py --data ../shared/data/fer2013.npz --queue all &

Each run lands in ``runs/<profile>/<name>/`` and its summary in
``results/<profile>/<name>/`` as soon as it finishes.
"""

from __future__ import annotations

import argparse
import time
import traceback
from pathlib import Path

from fer_course.data import load_fer2013
from fer_course.profiles import get_profile
from fer_course.recipes import autoencoder_recipe
from fer_course.results import export_run, results_root
from fer_course.runs import default_runs_dir
from fer_course.train import fit
from fer_course.train_autoencoder import fit_autoencoder

# (name, kind, options) in the order they are trained
QUEUES = {
    "multitask": [("multitask-lam1", "multitask", {"lam": 1.0}),
                  ("multitask-lam0", "multitask", {"lam": 0.0})],
    "members": [("resnet18", "backbone", {}), ("densenet121", "backbone", {}),
                ("resnet34", "backbone", {}), ("resnet50", "backbone", {}),
                ("densenet169", "backbone", {}), ("resnext50_32x4d", "backbone", {}),
                ("resnet18-seed1", "backbone", {"arch": "resnet18", "seed": 1}),
                ("resnet18-seed2", "backbone", {"arch": "resnet18", "seed": 2}),
                ("densenet121-seed1", "backbone", {"arch": "densenet121", "seed": 1}),
                ("resnet34-seed1", "backbone", {"arch": "resnet34", "seed": 1})],
    "autoencoder": [("autoencoder-200", "reconstruct", {"latent_dim": 200}),
                    ("autoencoder-500", "reconstruct", {"latent_dim": 500}),
                    ("autoencoder-1000", "reconstruct", {"latent_dim": 1000}),
                    ("frozen-classifier-1000", "classify_frozen",
                     {"latent_dim": 1000, "encoder_run": "autoencoder-1000"}),
                    ("ae-lr-0.05", "reconstruct",
                     {"latent_dim": 500, "lr": 0.05, "epochs": 3, "train_limit": 3000}),
                    ("ae-lr-0.001", "reconstruct",
                     {"latent_dim": 500, "lr": 1e-3, "epochs": 3, "train_limit": 3000}),
                    ("multitask-lam0.1", "multitask", {"lam": 0.1})],
    # the same backbone recipe on the FER+ majority labels (chapter 6)
    "ferplus": [("resnet18-ferplus", "backbone", {"arch": "resnet18", "labels": "ferplus"})],
}


# what the chapters need first: the multitask pair, a first ensemble, the autoencoders,
# the third lambda; then more members and seeds
ALL = [QUEUES["multitask"][0], QUEUES["members"][0], QUEUES["multitask"][1],
       *QUEUES["members"][1:3], *QUEUES["autoencoder"], *QUEUES["members"][3:5],
       *QUEUES["members"][6:8], QUEUES["members"][5], *QUEUES["members"][8:]]


class _Datasets:
    """The FER-2013 labels and the FER+ labels of one file, each loaded on first use."""

    def __init__(self, path: str, ferplus_path: str | None) -> None:
        self.path, self.ferplus_path, self._loaded = path, ferplus_path, {}

    def _load(self, labels: str):
        if labels not in self._loaded:
            self._loaded[labels] = load_fer2013(self.path, labels=labels,
                                                ferplus_path=self.ferplus_path)
        return self._loaded[labels]

    def fer2013(self):
        return self._load("fer2013")

    def ferplus(self):
        return self._load("ferplus")


def train_one(name: str, kind: str, options: dict, data, profile, runs_dir: Path):
    options = dict(options)
    ferplus = options.pop("labels", "fer2013") == "ferplus"
    data = data.ferplus() if ferplus else data.fer2013()
    if kind == "backbone":
        arch = options.pop("arch", name)
        return fit(data, arch, profile, runs_dir / name, progress=False, **options)
    recipe = autoencoder_recipe(profile, kind, **options)
    return fit_autoencoder(data, recipe, runs_dir / name, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--ferplus", default=None,
                        help="FER+ votes csv (fer2013new.csv), for the ferplus queue")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--queue", default="all", help=f"all or a comma list of {list(QUEUES)}")
    args = parser.parse_args()
    profile = get_profile(args.profile)
    runs_dir = default_runs_dir(profile.name)
    data = _Datasets(args.data, args.ferplus)
    names = args.queue.split(",")
    todo = ALL if names == ["all"] else [entry for q in names for entry in QUEUES[q]]
    for name, kind, options in todo:
        t0 = time.time()
        try:
            result = train_one(name, kind, options, data, profile, runs_dir)
        except Exception:  # one failed run must not stop the queue
            traceback.print_exc()
            continue
        export_run(result.run, results_root() / profile.name / name)
        print(f"{name}: test {result.metrics['test']['accuracy']:.4f} "
              f"({'loaded' if result.loaded else f'{time.time() - t0:.0f} s'})", flush=True)


if __name__ == "__main__":
    main()

"""Write (or check) results/manifest.json: the sha256 of every committed result file.

The tests compare results/ with it, so a deleted, truncated or edited summary fails them;
after adding or retraining a run, write it again:

    python tools/results_manifest.py          # write
    python tools/results_manifest.py --check  # exit 1 and list the differences
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer_course.atomic import atomic_write_json  # noqa: E402
from fer_course.home import results_root  # noqa: E402
from fer_course.runs.folder import sha256_of  # noqa: E402

MANIFEST = "manifest.json"  # in the results root (the checkout's results/)


def current(results: Path | None = None) -> dict[str, str]:
    """``{path under results/: sha256}`` of every file there but the manifest."""
    results = results or results_root()
    return {p.relative_to(results).as_posix(): sha256_of(p)
            for p in sorted(results.rglob("*")) if p.is_file() and p.name != MANIFEST}


def differences(recorded: dict[str, str], found: dict[str, str]) -> list[str]:
    """What differs between the manifest and the files, one line each.

    >>> differences({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"})
    ['b: changed', 'c: not in the manifest']
    """
    lines = [f"{p}: missing" for p in recorded if p not in found]
    lines += [f"{p}: changed" for p in recorded if p in found and found[p] != recorded[p]]
    lines += [f"{p}: not in the manifest" for p in found if p not in recorded]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    manifest = results_root() / MANIFEST
    if args.check:
        import json

        found = differences(json.loads(manifest.read_text()), current())
        print("\n".join(found) or f"{manifest.parent} matches its manifest")
        return 1 if found else 0
    files = current()
    atomic_write_json(manifest, files)
    print(f"{manifest}: {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())

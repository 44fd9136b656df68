"""Kaggle credentials: where the ``kaggle`` package finds a token (environment, token
files, Colab's Secrets panel), and how to keep every credential out of what is shown.

>>> "KAGGLE_KEY" in TOKEN_HELP
True
>>> scrub("bad key abc123 for bob", ["abc123", "bob"])
'bad key *** for ***'
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from fer_course.data import locate
from fer_course.data.locate import RULES_URL

TOKEN_URL = "https://www.kaggle.com/settings/api"

TOKEN_HELP = f"""\
No Kaggle API credentials were found. To create them:
  1. Sign in at kaggle.com, open {TOKEN_URL} and create an API token.
  2. Locally: save a downloaded kaggle.json as ~/.kaggle/kaggle.json (chmod 600), or
     set the environment variables KAGGLE_USERNAME and KAGGLE_KEY from it; a newer
     single token goes into KAGGLE_API_TOKEN (or the file ~/.kaggle/access_token).
  3. In Colab: open the Secrets panel (key icon, left bar), add KAGGLE_USERNAME and
     KAGGLE_KEY (or KAGGLE_API_TOKEN), and switch on notebook access for them.
  4. Accept the competition rules once: {RULES_URL}
Without Kaggle, see fer_course.data.download.MISSING_DATA_HELP for other ways."""
"""Steps to create a Kaggle API token, shown when none is found."""

def config_files() -> list[Path]:
    """kaggle.json places that the kaggle package versions read."""
    files = []
    config_dir = os.environ.get("KAGGLE_CONFIG_DIR", "").strip()
    if config_dir:
        files.append(Path(config_dir).expanduser() / "kaggle.json")
    home = Path.home()
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
    files.append(home / ".kaggle" / "kaggle.json")
    files.append(Path(xdg or home / ".config") / "kaggle" / "kaggle.json")
    return files


def token_files() -> list[Path]:
    """Newer kaggle versions: a single access token, or cached OAuth credentials."""
    kaggle_dir = Path.home() / ".kaggle"
    return [kaggle_dir / name for name in ("access_token", "access_token.txt", "credentials.json")]


def colab_secrets_to_env() -> bool:
    """Copy Kaggle secrets from Colab's Secrets panel into env vars; never shows them."""
    try:
        from google.colab import userdata  # type: ignore[import-not-found]
    except Exception:
        return False
    found = False
    for names in (("KAGGLE_USERNAME", "KAGGLE_KEY"), ("KAGGLE_API_TOKEN",)):
        values = []
        for name in names:
            try:
                values.append(userdata.get(name))
            except Exception:  # secret missing, or notebook access not granted
                values.append(None)
        if all(values):
            for name, value in zip(names, values, strict=True):
                os.environ.setdefault(name, str(value))
            found = True
    return found


def kaggle_credentials_available() -> bool:
    """Whether a Kaggle API token can be found (env vars, a token file, or Colab secrets).

    In Colab, secrets ``KAGGLE_USERNAME``/``KAGGLE_KEY`` (or ``KAGGLE_API_TOKEN``) are
    copied into environment variables so that the ``kaggle`` package sees them.
    """
    env = os.environ
    if env.get("KAGGLE_USERNAME") and env.get("KAGGLE_KEY"):
        return True
    if env.get("KAGGLE_API_TOKEN"):
        return True
    if any(p.is_file() for p in config_files() + token_files()):
        return True
    return locate.in_colab() and colab_secrets_to_env()


def secret_values() -> list[str]:
    """Every credential value this process could know about, longest first."""
    values = [os.environ.get(n, "") for n in ("KAGGLE_KEY", "KAGGLE_USERNAME", "KAGGLE_API_TOKEN")]
    for config in config_files():
        try:
            data = json.loads(config.read_text())
            values += [str(data.get("key", "")), str(data.get("username", ""))]
        except (OSError, ValueError, AttributeError):
            pass
    for token_file in token_files()[:2]:
        with contextlib.suppress(OSError):
            values.append(token_file.read_text().strip())
    return sorted({v for v in values if len(v) >= 3}, key=len, reverse=True)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text

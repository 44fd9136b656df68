"""Finding FER-2013 on disk, and telling a student how to get it when it is not there.

``find_fer2013()`` says where the data is (an explicit path, ``$FER2013_PATH``, or a
few usual places); when nothing is found it raises ``DataNotFoundError``, whose
message tells a student every way to get the data. Fetching it from Kaggle lives in
``fer_course.data.download``.

>>> "FER2013_PATH" in MISSING_DATA_HELP
True
"""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

ENV_VAR = "FER2013_PATH"

__all__ = [
    "ENV_VAR",
    "MISSING_DATA_HELP",
    "DataNotFoundError",
    "find_fer2013",
    "in_colab",
    "missing_data_message",
]

# The Kaggle names are spelled out here (not imported) so that this module never
# imports the download module; fer_course.data.download defines the same values.
MISSING_DATA_HELP = """\
Accepted forms (pass the path, or set FER2013_PATH):
  - fer2013.csv                 Kaggle FER-2013 (columns emotion, pixels, Usage)
  - icml_face_data.csv          the Kaggle competition's csv
  - an image-folder root        train/ val/ test/ (or train/ test/), each with <class>/*.png
  - an .npz file                arrays images, labels, usage
Ways to get it:
  a) Kaggle: needs an API token (~/.kaggle/kaggle.json, or KAGGLE_USERNAME and KAGGLE_KEY;
     in Colab put both in the Secrets panel, the key icon) and the competition rules
     accepted once on the website: https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge/rules
       from fer_course.data import download_fer2013
       path = download_fer2013("data/")
     or in a shell:
       kaggle competitions download -c challenges-in-representation-learning-facial-expression-recognition-challenge
         (a zip with icml_face_data.csv and fer2013.tar.gz, which holds fer2013.csv)
       kaggle datasets download -d msambare/fer2013     (image folders train/ and test/)
  b) Colab upload: from google.colab import files; files.upload()
     (the file lands in /content, e.g. /content/fer2013.csv)
  c) Google Drive: from google.colab import drive; drive.mount('/content/drive')
     then pass the path, e.g. '/content/drive/MyDrive/fer2013.csv'
  d) Anywhere: set the environment variable FER2013_PATH to the file or folder,
     e.g. os.environ["FER2013_PATH"] = "/path/to/fer2013.csv\""""
"""What to tell a student who has no FER-2013 yet: accepted files and four ways to get one."""

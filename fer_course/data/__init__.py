"""FER-2013 in, ``FERData`` out: readers, cache, synthetic stand-in, writers, download help.

>>> from fer_course.data import make_synthetic_fer
>>> make_synthetic_fer(70, 14, 14).classes[3]
'Happy'
"""

from .audit import audit_data
from .download import DownloadError, download_fer2013, kaggle_credentials_available
from .locate import DataNotFoundError, find_fer2013, missing_data_message
from .profile_data import load_profile_data
from .readers import load_fer2013
from .synthetic import make_synthetic_fer
from .types import CLASSES, FERData, FERFormatError, Split
from .writers import write_image_folders, write_kaggle_csv, write_npz

__all__ = [
    "CLASSES",
    "DataNotFoundError",
    "DownloadError",
    "FERData",
    "FERFormatError",
    "Split",
    "audit_data",
    "download_fer2013",
    "find_fer2013",
    "kaggle_credentials_available",
    "load_fer2013",
    "load_profile_data",
    "make_synthetic_fer",
    "missing_data_message",
    "write_image_folders",
    "write_kaggle_csv",
    "write_npz",
]

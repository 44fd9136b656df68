"""FER-2013 in, ``FERData`` out: readers, cache, synthetic stand-in, writers, download help.

>>> from fer_course.data import make_synthetic_fer
>>> make_synthetic_fer(70, 14, 14).classes[3]
'Happy'
"""

from fer_course.data.download import DownloadError, download_fer2013, kaggle_credentials_available
from fer_course.data.formats.writers import write_image_folders, write_kaggle_csv, write_npz
from fer_course.data.guard import MAX_SKIPPED_SHARE, DataShrankError
from fer_course.data.locate import DataNotFoundError, find_fer2013, missing_data_message
from fer_course.data.profile_data import load_profile_data
from fer_course.data.readers import load_fer2013
from fer_course.data.summary import data_summary, describe_data
from fer_course.data.synthetic import make_synthetic_fer
from fer_course.data.types import CLASSES, FERData, FERFormatError, Split, require_csv_rows

__all__ = [
    "CLASSES",
    "MAX_SKIPPED_SHARE",
    "DataNotFoundError",
    "DataShrankError",
    "DownloadError",
    "FERData",
    "FERFormatError",
    "Split",
    "data_summary",
    "describe_data",
    "download_fer2013",
    "find_fer2013",
    "kaggle_credentials_available",
    "load_fer2013",
    "load_profile_data",
    "make_synthetic_fer",
    "require_csv_rows",
    "missing_data_message",
    "write_image_folders",
    "write_kaggle_csv",
    "write_npz",
]

"""The data a profile asks for: synthetic faces for ``smoke``, the real FER-2013 otherwise."""

from __future__ import annotations

import os

from fer_course.data.readers import load_fer2013
from fer_course.data.synthetic import make_synthetic_fer
from fer_course.data.types import FERData
from fer_course.profiles import Profile


def load_profile_data(profile: Profile, data_path: str | os.PathLike | None = None) -> FERData:
    """Synthetic data when the profile says so and no path is given, else ``load_fer2013``.

    >>> from fer_course.profiles import get_profile
    >>> load_profile_data(get_profile("smoke")).source.startswith("synthetic")
    True
    """
    if profile.data == "synthetic" and data_path is None:
        n_train, n_val, n_test = profile.synthetic_sizes
        return make_synthetic_fer(n_train, n_val, n_test, seed=profile.seed)
    return load_fer2013(data_path)

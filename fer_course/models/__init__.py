"""The networks of the course: the seed paper's torchvision backbones and its autoencoder.

>>> build_backbone("resnet18").fc.out_features
7
"""

from fer_course.models.autoencoder import MultitaskAutoencoder, build_autoencoder
from fer_course.models.backbones import (
    BACKBONE_FAMILIES,
    BACKBONES,
    DISPLAY_NAMES,
    PAPER_BACKBONES,
    PAPER_DISPLAY_NAMES,
    WeightsUnavailableError,
    build_backbone,
    check_backbone_name,
    classifier_head,
    count_parameters,
    min_input_size,
    read_state_dict,
    replace_head,
)

__all__ = [
    "MultitaskAutoencoder",
    "build_autoencoder",
    "BACKBONES",
    "BACKBONE_FAMILIES",
    "DISPLAY_NAMES",
    "PAPER_BACKBONES",
    "PAPER_DISPLAY_NAMES",
    "WeightsUnavailableError",
    "build_backbone",
    "check_backbone_name",
    "classifier_head",
    "count_parameters",
    "min_input_size",
    "read_state_dict",
    "replace_head",
]

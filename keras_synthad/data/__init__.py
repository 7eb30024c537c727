"""Dataset readers and numpy preprocessing.

Benchmark data are read from one folder: ``$KERAS_SYNTHAD_DATA`` or, by default,
``../shared/data`` beside the repository. The embedded sample (`load_sample`)
ships inside the package and needs neither.
"""

from keras_synthad.data.adbench import load_adbench
from keras_synthad.data.idx import load_idx_images, read_idx
from keras_synthad.data.kdd import KDD_CATEGORICAL, fence_gan_split, kdd_features, load_kddcup99, load_nsl_kdd
from keras_synthad.data.paths import data_dir
from keras_synthad.data.preprocessing import MinMaxScaler
from keras_synthad.data.sample import SAMPLE_PATH, load_sample

__all__ = [
    "KDD_CATEGORICAL",
    "MinMaxScaler",
    "SAMPLE_PATH",
    "data_dir",
    "fence_gan_split",
    "kdd_features",
    "load_adbench",
    "load_idx_images",
    "load_kddcup99",
    "load_nsl_kdd",
    "load_sample",
    "read_idx",
]

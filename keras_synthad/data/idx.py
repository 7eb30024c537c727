"""IDX files (MNIST, Fashion-MNIST), gzip-compressed or not."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from keras_synthad.data.paths import data_dir

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Decode one IDX file into a numpy array (its shape from the header)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype = np.dtype(_DTYPES[raw[2]])
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path} is truncated or padded: {len(raw)} bytes, header implies {expected}")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def load_idx_images(dataset: str = "mnist", split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST or Fashion-MNIST from the shared data folder.

    Returns:
        ``(images, labels)``: float32 images (n, 28, 28, 1) in [0, 1] and int64 labels.
    """
    if dataset not in ("mnist", "fashion_mnist"):
        raise ValueError(
            f"Invalid value received for argument `dataset`. Expected 'mnist' or 'fashion_mnist'. Received: dataset={dataset!r}"
        )
    if split not in ("train", "test"):
        raise ValueError(
            f"Invalid value received for argument `split`. Expected 'train' or 'test'. Received: split={split!r}"
        )
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(data_dir(dataset, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(data_dir(dataset, f"{prefix}-labels-idx1-ubyte.gz"))
    return (images.astype(np.float32) / 255.0)[..., None], labels.astype(np.int64)

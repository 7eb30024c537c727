"""tf.Example splits on disk, as TFX lays them out: ``<uri>/Split-<name>/data_tfrecord-*.gz``.

Columns travel as numpy arrays: float32 for numbers and object arrays of ``str`` for
text. A missing value is ``None`` in text; in numbers, rows flagged in ``absent``
(a NaN not flagged there is written as a NaN, for the validator to report). Encoding and decoding go through tfx_bsl's
Arrow coders (C++), so a split of a few hundred thousand rows takes seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
from tfx_bsl.coders import example_coder

FILE_NAME = "data_tfrecord-00000-of-00001.gz"
SHUFFLE_ROWS = 65536  # training rows shuffled together when a split is streamed (about 25 MB of records)


def split_dir(uri, split: str) -> Path:
    return Path(uri) / f"Split-{split}"


def split_pattern(uri, split: str) -> str:
    return str(split_dir(uri, split) / "*.gz")


def _list_array(values: np.ndarray, absent: np.ndarray | None) -> pa.ListArray:
    """One value per row as a list array; missing entries are null lists (absent in the tf.Example)."""
    if values.dtype == object:
        present = np.array([v is not None for v in values], dtype=bool)
        flat = pa.array([v.encode() for v in values[present]], pa.binary())
    else:
        present = np.ones(len(values), dtype=bool) if absent is None else ~absent
        flat = pa.array(values[present].astype(np.float32), pa.float32())
    offsets = np.concatenate([[0], np.cumsum(present)]).astype(np.int32)
    offsets = pa.array(offsets, pa.int32(), mask=np.concatenate([[False], ~present]))
    return pa.ListArray.from_arrays(offsets, flat)


def encode(columns: dict[str, np.ndarray], absent: dict[str, np.ndarray] | None = None) -> list[bytes]:
    """Serialized tf.Examples, one per row; `absent` flags the numeric cells to leave out."""
    absent = absent or {}
    batch = pa.RecordBatch.from_arrays([_list_array(v, absent.get(k)) for k, v in columns.items()], list(columns))
    return example_coder.RecordBatchToExamplesEncoder().encode(batch)


def write(path, serialized: list[bytes]) -> None:
    import tensorflow as tf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for record in serialized:
            writer.write(record)


def shard_files(uri, split: str) -> list[str]:
    """The gzipped TFRecord shards of one split, in order."""
    files = sorted(str(p) for p in split_dir(uri, split).glob("*.gz"))
    if not files:
        raise FileNotFoundError(f"No examples for split {split!r} under {uri}")
    return files


def read_records(files, compression: str = "GZIP", count: int | None = None) -> list[bytes]:
    """The serialized records of TFRecord `files`, in order (the first `count` only, without
    reading the rest, when given). `compression`: ``"GZIP"`` or ``""``."""
    import tensorflow as tf

    data = tf.data.TFRecordDataset(files, compression_type=compression)
    if count is not None:
        data = data.take(count)
    records = []
    for batch in data.batch(65536):
        records.extend(batch.numpy().tolist())
    return records


def read(uri, split: str, count: int | None = None) -> list[bytes]:
    """The serialized tf.Examples of one split (the first `count` only, when given)."""
    return read_records(shard_files(uri, split), count=count)


def decode(serialized: list[bytes], batch_rows: int = 65536) -> dict[str, np.ndarray]:
    """Columns of serialized tf.Examples: one value per row -> 1-D arrays, more -> (rows, k)."""
    decoder = example_coder.ExamplesToRecordBatchDecoder()
    batches = [decoder.DecodeBatch(serialized[i : i + batch_rows]) for i in range(0, len(serialized), batch_rows)]
    table = pa.Table.from_batches(batches) if batches else pa.table({})
    columns = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        lengths = column.value_lengths().to_numpy(zero_copy_only=False)
        values = column.flatten()
        if any(
            check(values.type)
            for check in (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_string, pa.types.is_large_string)
        ):
            flat = np.array([v.decode() for v in values.to_pylist()], dtype=object)
        else:
            flat = values.to_numpy(zero_copy_only=False)
        if np.all(lengths == 1):
            columns[name] = flat
        elif len(set(lengths.tolist())) == 1 and lengths.size:
            columns[name] = flat.reshape(len(lengths), int(lengths[0]))
        else:
            raise ValueError(f"Feature {name!r} has a varying or missing number of values per example.")
    return columns


def model_inputs(transformed_uri, split: str, order: list[str]) -> np.ndarray:
    """A transformed split as one float32 matrix: the features of `order`, concatenated."""
    columns = decode(read(transformed_uri, split))
    n = len(next(iter(columns.values())))
    return np.concatenate([np.asarray(columns[name], np.float32).reshape(n, -1) for name in order], axis=1)


def model_input_batches(
    transformed_uri, split: str, order: list[str], feature_spec: dict, batch_size: int, shuffle_seed=None
):
    """A transformed split as a `tf.data.Dataset` of float32 batches (the features of `order`,
    concatenated), read from the shards as it goes: memory does not grow with the split.

    ``shuffle_seed``: shuffle the shards' order and the rows within a `SHUFFLE_ROWS` buffer,
    anew every epoch (training); ``None`` keeps the split's order (scoring).
    """
    import tensorflow as tf

    from keras_synthad.export.signatures import model_input

    files = shard_files(transformed_uri, split)
    spec = {name: feature_spec[name] for name in order}
    data = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_seed is not None:
        data = data.shuffle(len(files), seed=shuffle_seed)
    data = data.interleave(lambda f: tf.data.TFRecordDataset(f, compression_type="GZIP"), cycle_length=1)
    if shuffle_seed is not None:
        data = data.shuffle(SHUFFLE_ROWS, seed=shuffle_seed)

    def to_matrix(records):
        return model_input(tf.io.parse_example(records, spec), order, tf.shape(records)[0])

    return data.batch(batch_size).map(to_matrix, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)

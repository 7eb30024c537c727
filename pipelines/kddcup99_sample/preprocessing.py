"""The Transform of the KDD Cup 99 sample pipeline: yours to edit.

tf.Transform analyses this function on the training split and applies the same graph
to every split and, inside the exported SavedModel, to raw serving requests. It must
return one ``<column>_xf`` tensor per feature column; the model's input is their
concatenation in the input's column order.

As written it does what the library does without a module file: one-hot vocabularies
for text columns (one out-of-vocabulary slot) and numbers scaled to [0, 1], the
range Fence GAN's generator and the default presets' trivial anomalies assume. To
z-score instead, return ``tft.scale_to_z_score(value)`` and train a method that
takes any real inputs (a ``preset = "paper"`` one, or DHAG with ``standardize``).
"""

import tensorflow as tf
import tensorflow_transform as tft

OOV_BUCKETS = 1


def preprocessing_fn(inputs):
    outputs = {}
    for name, value in inputs.items():
        if value.dtype == tf.string:
            index = tft.compute_and_apply_vocabulary(value, num_oov_buckets=OOV_BUCKETS, vocab_filename=name)
            size = tft.experimental.get_vocabulary_size_by_name(name) + OOV_BUCKETS
            outputs[f"{name}_xf"] = tf.one_hot(index, tf.cast(size, tf.int32))
        else:
            outputs[f"{name}_xf"] = tft.scale_to_0_1(tf.cast(value, tf.float32))
    return outputs

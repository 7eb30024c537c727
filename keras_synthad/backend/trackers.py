"""Loss trackers updated with Keras calls: the backends' shared path."""


def update_trackers(trackers, losses) -> dict:
    """Add each of `losses` to the `keras.metrics.Mean` tracker of its name; the trackers' results.

    JAX and TensorFlow trace these calls into the compiled step; torch runs them for trackers and
    losses its in-place path does not cover.
    """
    for tracker in trackers:
        if tracker.name in losses:
            tracker.update_state(losses[tracker.name])
    return {tracker.name: tracker.result() for tracker in trackers}

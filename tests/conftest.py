"""Shared fixtures. Tests run once per backend: ``KERAS_BACKEND=<name> pytest``."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    # One compute thread per xdist worker (and its subprocesses): the workers already fill the cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_synthad as ks  # noqa: E402

BACKEND = keras.backend.backend()
if BACKEND == "torch" and os.environ.get("OMP_NUM_THREADS") == "1":
    import torch

    torch.set_num_threads(1)


def tiny_fence_gan(width: int = 4, **kwargs) -> ks.FenceGAN:
    """A Fence GAN small enough for unit tests (same code path as the paper's).

    It uses the authors' cross-entropy encirclement: at this size the paper's eq. (3)
    saturates (D(G(z)) -> 0 leaves its gradient through the sigmoid near zero).
    """
    defaults = dict(
        encirclement="bce",
        latent_dim=4,
        generator_units=(16,),
        discriminator_units=(16,),
        generator_dropout=0.0,
        seed=0,
    )
    defaults.update(kwargs)
    return ks.FenceGAN(input_shape=(width,), **defaults)


def exported_fence_gan(base, x, feature_names, contamination: float, epochs: int, batch_size: int) -> ks.FenceGAN:
    """A tiny Fence GAN fitted on `x`, calibrated and exported as version 1 under `base` with `feature_names`."""
    from keras_synthad import export

    keras.utils.set_random_seed(0)
    model = tiny_fence_gan()
    model.fit(x, epochs=epochs, batch_size=batch_size, verbose=0)
    model.calibrate(x, contamination=contamination)
    export.export_saved_model(model, base, feature_names=feature_names)
    return model


def fast_optimizers(lr: float = 1e-2) -> dict:
    return {"generator": keras.optimizers.Adam(lr), "discriminator": keras.optimizers.Adam(lr)}


@pytest.fixture
def normal_data() -> np.ndarray:
    """512 rows of a tight cluster in [0, 1]^4."""
    rng = np.random.default_rng(0)
    return rng.normal(0.5, 0.05, (512, 4)).clip(0, 1).astype("float32")


@pytest.fixture
def far_data() -> np.ndarray:
    """Points in the corners of [0, 1]^4, far from the normal cluster."""
    rng = np.random.default_rng(1)
    return rng.choice([0.02, 0.98], size=(256, 4)).astype("float32") + rng.normal(0, 0.01, (256, 4)).astype("float32")


def tiny_aae(width: int = 4, **kwargs) -> ks.AdversarialAutoencoder:
    """An adversarial autoencoder small and fast enough for unit tests."""
    defaults = dict(latent_dim=2, prior_scale=1.0, hidden_units=(32, 32), learning_rate=1e-3, seed=0)
    defaults.update(kwargs)
    return ks.AdversarialAutoencoder(input_shape=(width,), **defaults)


def tiny_conv_aae(image_shape=(12, 12, 1), **kwargs) -> ks.AdversarialAutoencoder:
    """A convolutional adversarial autoencoder (DA3D's image path) small enough for unit tests."""
    defaults = dict(
        latent_dim=4,
        prior_scale=1.0,
        hidden_units=(16, 8),
        conv_filters=(8, 4),
        decoder_activation="sigmoid",
        learning_rate=1e-3,
        seed=0,
    )
    defaults.update(kwargs)
    return ks.AdversarialAutoencoder(image_shape, **defaults)


def plane_data(n: int = 1000, seed: int = 0) -> np.ndarray:
    """Rows in [0, 1]^4 on a curved 2-D surface (a 2-D code can describe them)."""
    u = np.random.default_rng(seed).uniform(0, 1, (n, 2))
    return np.concatenate([u, (u[:, :1] + u[:, 1:]) / 2, u[:, :1] * u[:, 1:]], axis=1).astype("float32")


def blob_images(n=256, size=12, seed=0):
    """Images with one bright Gaussian blob in the left half (normal data), shape (n, size, size, 1)."""
    rng = np.random.default_rng(seed)
    grid = np.arange(size, dtype="float32")
    rows = rng.uniform(2, size - 3, (n, 1, 1))
    cols = rng.uniform(2, size / 2, (n, 1, 1))
    blob = np.exp(-((grid[None, :, None] - rows) ** 2 + (grid[None, None, :] - cols) ** 2) / 4.0)
    return blob[..., None].astype("float32")


SHARED_DATA_FIXTURES = {"thyroid"}  # fixtures that read ../shared/data
# The files with the longest tests (the installed wheel's main job, the pipeline runs, scikit-learn's
# checks), slowest first. They run first, so the two `-n 2 --dist loadfile` workers end together
# instead of one running a long file alone at the end (pyproject's addopts turn xdist's own
# reordering by test count off).
SLOW_FILES = ("test_cli.py", "test_pipeline_runs.py", "test_pipeline.py", "test_sklearn.py", "test_export.py")


def pytest_collection_modifyitems(items):
    """Run `SLOW_FILES` first; mark every test that reads ../shared/data (through a fixture or its
    module's mark) `shared_data`."""
    items.sort(key=lambda item: SLOW_FILES.index(item.path.name) if item.path.name in SLOW_FILES else len(SLOW_FILES))
    for item in items:
        if SHARED_DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared_data)

"""keras_synthad: anomaly detection that learns from synthetic anomalies, on Keras 3."""

from keras_synthad.detector import AnomalyDetector
from keras_synthad.methods.fence_gan import FenceGAN

__version__ = "0.1.0"

__all__ = ["AnomalyDetector", "FenceGAN", "__version__"]

"""keras_synthad: anomaly detection that learns from synthetic anomalies, on Keras 3."""

from keras_synthad.augmentation import SMOTEVariant
from keras_synthad.detector import AnomalyDetector, OutOfRangeWarning
from keras_synthad.downstream import EstimatorScorer, IsolationForestScorer, NearestNeighborScorer
from keras_synthad.methods.aae import AdversarialAutoencoder
from keras_synthad.methods.da3d import DA3D
from keras_synthad.methods.dhag import DHAG
from keras_synthad.methods.doping import DOPING
from keras_synthad.methods.fence_gan import FenceGAN

__version__ = "0.1.0"

__all__ = [
    "DA3D",
    "DHAG",
    "DOPING",
    "AdversarialAutoencoder",
    "AnomalyDetector",
    "EstimatorScorer",
    "FenceGAN",
    "IsolationForestScorer",
    "NearestNeighborScorer",
    "OutOfRangeWarning",
    "SMOTEVariant",
    "__version__",
]

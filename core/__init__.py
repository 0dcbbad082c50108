"""Multi-label classification of tiled CIFAR-10 composites.

Importing the package registers the custom losses, metrics and schedules with Keras, so that
`keras.saving.load_model(path)` can load the project's trained models.
"""

from core import losses, metrics, schedules  # noqa: F401  (registers custom objects)

"""Multi-label classification of tiled CIFAR-10 composites.

Importing the package imports nothing heavy: a command's `--help` answers at once. The modules
that define custom losses, metrics and schedules register them with Keras when imported
(`core.checkpoints` does so before loading a training checkpoint); inference loads models
without them.
"""

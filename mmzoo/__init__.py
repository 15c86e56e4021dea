"""mmzoo: a Keras 3 model zoo for multimodal learning."""

__version__ = "0.1.0"

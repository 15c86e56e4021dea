"""The shared test harness (DESIGN.md): every layer and model goes through it."""

from mmzoo.testing.layer_test import run_layer_test

__all__ = ["run_layer_test"]

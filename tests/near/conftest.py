"""Digits workspaces shared with the training tests."""

from tests.training.conftest import TRANSFER, digits_ws, pretrained  # noqa: F401

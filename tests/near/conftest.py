"""Digits workspaces shared with the training tests."""

from tests.training.conftest import digits_ws, matched, pretrained  # noqa: F401

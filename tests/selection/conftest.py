"""The training tests' digits workspace, for selecting by a pretrained encoder."""

from tests.training.conftest import digits_ws  # noqa: F401 (a fixture)

from tests.training.conftest import digits_ws  # noqa: F401  (the same digits workspace)

from tests.audit.conftest import digits_ws, trained  # noqa: F401  (the same trained workspace)

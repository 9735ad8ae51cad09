from tests.audit.conftest import digits_ws, matched, pretrained, trained  # noqa: F401  (the same trained workspace)

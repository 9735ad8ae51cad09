"""Distribution shift between dataset versions: per-column tests, embedding MMD, reports."""

"""Warnings that are known noise on every datagov command, and the one place that silences them."""

from __future__ import annotations

import warnings


def quiet_known_warnings() -> None:
    """Filters for warnings datagov has checked are noise. Call again after
    importing a module that resets the filters: torch's DDP `Join` puts a
    global `simplefilter("once")` in front of every filter when imported."""
    # Great Expectations and MLflow import pyspark when it is installed (`datagov[spark]`),
    # and pyspark 4.3 warns about pandas 3 on import; datagov never hands Spark a
    # pandas frame.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

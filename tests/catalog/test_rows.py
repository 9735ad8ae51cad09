"""Catalog rows round-trip by name: whatever a row dataclass holds is what
comes back through its owner's functions, for every table family (the habit
sqlite-utils keeps in its own tests). Columns are matched by name, so a
column added in the middle of a table cannot shift values into the wrong
field."""

import string
import uuid
from dataclasses import replace
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datagov.catalog import drift_reports, receipts, runs, team
from datagov.catalog.caches import CacheRecord, cache_record, record_cache
from datagov.catalog.db import is_postgres, open_catalog
from datagov.catalog.rows import build, column_list, insert, read
from datagov.catalog.versions import Dataset, dataset_row

TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_.:/é", min_size=1, max_size=30)
OPTIONAL = st.none() | TEXT
WHEN = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
OBJECT = st.dictionaries(TEXT, JSON, max_size=4)
IDS = st.just("replaced-per-example")  # keys are made unique in each test: examples share one catalog
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def fresh(row, *keys):
    """The row with new unique values in its key columns: examples share one catalog."""
    return replace(row, **{k: uuid.uuid4().hex for k in keys})


def as_recorded(con, row):
    """On PostgreSQL the database, not the client, says who made a record."""
    return replace(row, who=team.who(con)) if is_postgres(con) else row


@pytest.fixture
def con(ws):
    with open_catalog(ws, write=True) as connection:
        yield connection


@SETTINGS
@given(st.builds(runs.WaiverRow, id=IDS, target=TEXT, stage=TEXT, reason=TEXT, who=TEXT,
                 refused=st.lists(OBJECT, max_size=3), created=WHEN, expires=st.none() | WHEN, run_id=IDS))  # fmt: skip
def test_waivers(con, waiver):
    waiver = fresh(waiver, "id", "run_id")
    runs.insert_waiver(con, waiver)
    assert runs.waivers_of_run(con, waiver.run_id) == [as_recorded(con, waiver)]


@SETTINGS
@given(st.builds(runs.PromotionRow, id=IDS, model_name=IDS, model_version=TEXT, alias=TEXT,
                 previous_version=OPTIONAL, decision=OBJECT, waiver_id=OPTIONAL, who=TEXT, created=WHEN))  # fmt: skip
def test_promotions(con, promotion):
    promotion = fresh(promotion, "id", "model_name")
    runs.insert_promotion(con, promotion)
    assert runs.promotions_of(con, promotion.model_name, promotion.model_version) == [as_recorded(con, promotion)]


@SETTINGS
@given(st.builds(receipts.Receipt, id=IDS, dataset=TEXT, digest=IDS, suite=TEXT, suite_digest=TEXT, kind=TEXT,
                 success=st.booleans(), status=TEXT, evaluated=st.integers(0, 10**6), successful=st.integers(0, 10**6),
                 results=st.lists(OBJECT, max_size=3), gx_version=TEXT, started=WHEN,
                 duration=st.floats(0, 1e6, allow_nan=False), report=OPTIONAL, reference_digest=OPTIONAL,
                 engine=st.sampled_from(["duckdb", "spark"])))  # fmt: skip
def test_receipts(con, receipt):
    receipt = fresh(receipt, "id")
    receipts.insert_receipt(con, receipt)
    assert receipts.receipt_by_id(con, receipt.id) == receipt


@SETTINGS
@given(st.builds(drift_reports.DriftReportRow, id=IDS, reference=TEXT, reference_digest=TEXT, target=TEXT,
                 target_digest=IDS, drift=st.booleans(), share=st.floats(0, 1), mode=TEXT, encoder=OPTIONAL,
                 embedding_drift=st.none() | st.booleans(), recommendation=OPTIONAL, summary=OBJECT, report=TEXT,
                 data=TEXT, created=WHEN, duration=st.floats(0, 1e6)))  # fmt: skip
def test_drift_reports(con, report):
    report = fresh(report, "id", "target_digest")
    drift_reports.insert_drift_report(con, report)
    assert drift_reports.reports_on_target(con, report.target_digest) == [report]


@SETTINGS
@given(st.builds(CacheRecord, digest=IDS, name=TEXT, sha256=TEXT, bytes=st.integers(0, 2**50)))
def test_caches(con, record):
    record = fresh(record, "digest")
    record_cache(con, record)
    assert cache_record(con, record.digest, record.name) == record


@SETTINGS
@given(st.builds(Dataset, name=IDS, description=OPTIONAL, owner=OPTIONAL, license=OPTIONAL,
                 tags=st.dictionaries(TEXT, TEXT, max_size=3), modality=st.sampled_from(["image", "tabular"]),
                 source=OPTIONAL, label_column=OPTIONAL, created=WHEN, updated=WHEN))  # fmt: skip
def test_datasets(con, dataset):
    dataset = fresh(dataset, "name")
    insert(con, "datasets", dataset, json_columns=["tags"])
    assert dataset_row(con, dataset.name) == dataset


def test_columns_are_matched_by_name_not_position(con):
    """A query that selects the columns in another order still fills the right fields."""
    row = CacheRecord("d" * 64, "pixels.npy", "e" * 64, 42)
    record_cache(con, row)
    shuffled = con.execute("SELECT bytes, sha256, name, digest FROM caches")
    assert read(shuffled, CacheRecord) == [row]
    assert column_list(CacheRecord) == "digest, name, sha256, bytes"
    assert build(CacheRecord, {"bytes": 1, "digest": "a", "name": "b", "sha256": "c", "created": None}).bytes == 1

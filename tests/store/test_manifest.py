"""Round trips and digests: what is ingested is what is read back, and the
digest depends on content alone."""

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datagov.catalog.versions import scan_version
from datagov.ingest import ingest_source
from datagov.layout import init_workspace
from datagov.sources import IngestOptions
from datagov.store import Manifest, build_manifest


@st.composite
def tables(draw):
    n = draw(st.integers(1, 30))
    return pa.table(
        {
            "i": draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n)),
            "f": draw(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=n, max_size=n)),
            "s": draw(st.lists(st.one_of(st.none(), st.text(max_size=12)), min_size=n, max_size=n)),
            "b": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        }
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables())
def test_parquet_round_trip_and_stable_digest(tmp_path_factory, table):
    ws, _ = init_workspace(tmp_path_factory.mktemp("ws"))
    src = tmp_path_factory.mktemp("src") / "t.parquet"
    pq.write_table(table, src)
    opts = IngestOptions(show_progress=False)
    first = ingest_source(ws, str(src), "t", options=opts)
    con = duckdb.connect()
    try:
        back = con.sql(f"SELECT * FROM {scan_version(ws, first.version)}").to_arrow_table()
    finally:
        con.close()
    assert back.to_pylist() == table.to_pylist()
    # The same rows from another producer (different row groups, codec) are the same version.
    other = src.with_name("t2.parquet")
    pq.write_table(table, other, row_group_size=3, compression="gzip")
    second = ingest_source(ws, str(other), "t", options=opts)
    assert second.version.digest == first.version.digest and not second.registered.created


def test_digest_covers_schema_and_files(tmp_path):
    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "part-00000.parquet")
    base = build_manifest(tmp_path)
    assert base.rows == 2 and base.schema == [{"name": "a", "type": "BIGINT"}]
    renamed = Manifest(schema=[{"name": "b", "type": "BIGINT"}], files=base.files)
    assert renamed.digest != base.digest
    pq.write_table(pa.table({"a": [1, 3]}), tmp_path / "part-00000.parquet")
    assert build_manifest(tmp_path).digest != base.digest


def test_the_scan_of_a_version_reads_only_its_manifest_files(cli, ws):
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import resolve

    (ws.root / "t.csv").write_text("a\n1\n2\n")
    assert cli("ingest", ws.root / "t.csv", "--name", "t").exit_code == 0
    with open_catalog(ws) as con:
        version = resolve(con, "t")
    pq.write_table(pa.table({"a": [99]}), ws.store_dir / version.digest / "part-99999.parquet")
    assert duckdb.sql(f"SELECT sum(a) FROM {scan_version(ws, version)}").fetchall() == [(3,)]

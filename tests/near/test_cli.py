"""`datagov dedup` and `datagov contamination`: bad input, receipts, the
fingerprint cache of older versions, `split --dedupe near`, encoders."""

import json

import pyarrow.parquet as pq
import pytest

from datagov.catalog.db import open_catalog
from tests.training.conftest import SPEC, TINY


@pytest.fixture
def digits(cli, ws):
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    assert cli("split", "digits", "--into", "a=0.5,b=0.5").exit_code == 0
    return cli


def written(ws) -> tuple[int, list[str]]:
    with open_catalog(ws) as con:
        receipts = con.execute("SELECT count(*) FROM receipts").fetchone()[0]
    reports = sorted(p.name for p in ws.reports_dir.glob("*")) if ws.reports_dir.exists() else []
    return receipts, reports


BAD = [
    (["contamination", "nope", "digits"], "Error: unknown dataset 'nope'"),
    (["dedup", "digits", "--radius", "16"], "Error: --radius 16 is out of range: use 0 to 15 bits of 64"),
    (["dedup", "digits", "--min-similarity", "1.5"], "Error: --min-similarity 1.5 is out of range: use -1 to 1"),
    (["dedup", "digits", "--max-share", "2"], "Error: --max-share 2.0 is out of range: use 0 to 1"),
    (["dedup", "digits", "--hashes", "ahash"], "Error: --hashes ahash: choose from phash, dhash"),
    (["dedup", "digits", "--jaccard", "0"], "Error: --jaccard 0.0 is out of range"),
    (["contamination", "digits", "table"], "are not both images or both tables: nothing to compare"),
    (["dedup", "table", "--column", "n"], "Error: column 'n' of table@"),
    (["dedup", "table", "--column", "missing"], "has no column 'missing'"),
    (["dedup", "table", "--encoder", "models:/m/1"], "Error: --encoder embeds images; table@"),
    (["dedup", "digits", "--column", "path"], "Error: --column names text columns of tables; digits@"),
    (["dedup", "digits", "--out", "{tmp}/t.csv/r.html"], "Error: cannot write"),  # a file as a folder
]


def test_bad_input_is_one_error_line_and_writes_nothing(digits, ws, tmp_path):
    (tmp_path / "t.csv").write_text("n,s\n1,hello there general kenobi\n2,another row of plain text here\n")
    assert digits("ingest", tmp_path / "t.csv", "--name", "table").exit_code == 0
    before = written(ws)
    for args, message in BAD:
        result = digits(*(a.format(tmp=tmp_path) for a in args))
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr and result.stderr.startswith("Error: "), (args, result.stderr)
        assert "Traceback" not in result.output
    assert written(ws) == before


def test_dedup_writes_a_receipt_bound_to_the_version_and_its_settings(digits, ws):
    result = digits("dedup", "digits", "--max-share", "0.05", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["kind"] == "dedup" and 0 < doc["flagged"] < 0.05 * 1797 and doc["passed"]
    with open_catalog(ws) as con:
        row = con.execute("SELECT kind, suite, digest, reference_digest, success, report FROM receipts").fetchone()
    assert row[:2] == ("contamination", "near-image") and row[2] == row[3] == doc["target"]["digest"]
    assert row[4] is True and row[5] == doc["report_path"]
    listed = digits("validations", "list", "--json")
    assert [r["kind"] for r in json.loads(listed.stdout)] == ["contamination"]


def test_a_version_without_fingerprint_columns_gets_a_verified_cache(digits, ws, tmp_path):
    """Versions ingested before the columns existed: computed once, cached by
    digest, re-hashed before use, rebuilt when changed."""
    path = next(ws.store_dir.glob("*/*.parquet"))
    table = pq.read_table(path).drop_columns(["phash", "dhash", "thumb"])
    pq.write_table(table, tmp_path / "old.parquet")
    assert digits("ingest", tmp_path / "old.parquet", "--name", "old").exit_code == 0
    first = json.loads(digits("dedup", "old", "--max-share", "1", "--json").stdout)
    with open_catalog(ws) as con:
        digest = con.execute("SELECT digest FROM versions WHERE dataset = 'old'").fetchone()[0]
        cached = con.execute("SELECT name FROM caches WHERE digest = ?", [digest]).fetchall()
    assert cached == [("fingerprints.parquet",)]
    new = json.loads(digits("dedup", "digits", "--max-share", "1", "--json").stdout)
    assert (first["flagged"], first["pairs_found"]) == (new["flagged"], new["pairs_found"])

    cache = ws.cache_dir / digest / "fingerprints.parquet"
    stored = pq.read_table(cache)
    pq.write_table(stored.set_column(2, "thumb", pq.read_table(cache).column("thumb").take([0] * len(stored))), cache)
    again = digits("dedup", "old", "--max-share", "1", "--json")
    assert "differs from its recorded sha256; rebuilding it" in again.stderr
    assert json.loads(again.stdout)["flagged"] == first["flagged"]


def test_fingerprint_columns_a_table_brings_are_not_trusted(digits, ws, tmp_path):
    """A table whose writer filled in `phash`/`thumb` (all alike here, to hide
    or fake copies) is fingerprinted from its images, like an old version."""
    path = next(ws.store_dir.glob("*/*.parquet"))
    table = pq.read_table(path)
    for name in ("phash", "dhash", "thumb"):
        forged = table.column(name).take([0] * table.num_rows)
        table = table.set_column(table.schema.get_field_index(name), name, forged)
    pq.write_table(table, tmp_path / "forged.parquet")
    assert digits("ingest", tmp_path / "forged.parquet", "--name", "forged").exit_code == 0
    forged = json.loads(digits("dedup", "forged", "--max-share", "1", "--json").stdout)
    real = json.loads(digits("dedup", "digits", "--max-share", "1", "--json").stdout)
    assert forged["flagged"] == real["flagged"] < 100  # not 1,796 copies of one image


def test_split_dedupe_near_leaves_no_near_copy_across_splits(digits, ws):
    result = digits("split", "digits", "--into", "x=0.8,y=0.2", "--dedupe", "near", "--prefix", "clean")
    assert result.exit_code == 0, result.output
    assert "near-duplicates in parent:" in result.stdout and "removed by --dedupe" in result.stdout
    assert digits("contamination", "clean-x", "clean-y").exit_code == 0
    assert digits("contamination", "digits-a", "digits-b").exit_code == 3  # the plain split leaks look-alikes
    shown = json.loads(digits("datasets", "show", "digits", "--json").stdout)
    reasons = [r["reason"] for r in shown["rejects"]]
    assert reasons and all("near-duplicate of row" in r and "similarity" in r for r in reasons)
    bad = digits("split", "digits", "--into", "x=0.5,y=0.5", "--dedupe", "fuzzy")
    assert bad.exit_code == 1 and "Error: --dedupe 'fuzzy': use exact or near" in bad.stderr


def test_an_encoder_confirms_pairs_by_the_cosine_of_its_embeddings(digits_ws, ws):
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    assert digits_ws("pretrain", SPEC, *TINY, "--no-progress").exit_code == 0
    assert digits_ws("ingest", "sklearn:digits", "--name", "all").exit_code == 0
    plain = json.loads(digits_ws("contamination", "all", "digits-eval", "--max-share", "1", "--json").stdout)
    strict = digits_ws(
        "contamination", "all", "digits-eval", "--encoder", "models:/digits-autoencoder/1", "--min-cosine", "0.999",
        "--max-share", "1", "--json",
    )  # fmt: skip
    assert strict.exit_code == 0, strict.output
    doc = json.loads(strict.stdout)
    assert doc["settings"]["encoder"] == "models:/digits-autoencoder/1" and doc["settings"]["min_cosine"] == 0.999
    assert 0 < doc["flagged"] <= plain["flagged"] == 354  # eval is a subset of `all`
    assert all(p["cosine"] >= 0.999 for p in doc["pairs"])
    wrong = digits_ws("contamination", "all", "digits-eval", "--encoder", "models:/nope/1")
    assert wrong.exit_code == 1 and wrong.stderr.startswith("Error: ")


def test_the_report_shows_each_pair_side_by_side(digits, ws, tmp_path):
    out = tmp_path / "pairs.html"
    result = digits("contamination", "digits-a", "digits-b", "--out", out, "--json")
    doc = json.loads(result.stdout)
    page = out.read_text()
    assert page == (ws.root / doc["report_path"]).read_text()
    assert page.count("<tr><td><img") == len(doc["pairs"]) > 0
    assert f"{doc['flagged']:,} of {doc['target_rows']:,} rows" in page

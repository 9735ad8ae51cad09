import json
from collections import Counter

import duckdb
import numpy as np
import pytest
from PIL import Image

from datagov.catalog.versions import scan_version
from datagov.errors import InvalidInput
from datagov.split import _allocate, assign, parse_into, parse_per_class
from tests.conftest import catalog_counts
from tests.sources.test_tabular import latest_digest, latest_version


def labels_of(ws, name):
    q = f"SELECT label FROM {scan_version(ws, latest_version(ws, name))}"
    return [r[0] for r in duckdb.sql(q).fetchall()]


@pytest.fixture
def digits(cli):
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    return cli


def test_split_is_stratified_and_deterministic(digits, ws):
    cli = digits
    result = cli("split", "digits", "--into", "pretrain=0.7,finetune=0.1,eval=0.2", "--drop-labels", "pretrain")
    assert result.exit_code == 0, result.output
    assert "overlap between splits: none" in result.stdout
    sizes = {
        s: json.loads(cli("datasets", "show", f"digits-{s}", "--json").stdout)["version"]["rows"]
        for s in ("pretrain", "finetune", "eval")
    }
    assert sum(sizes.values()) == 1797
    assert abs(sizes["pretrain"] - 0.7 * 1797) <= 10 and abs(sizes["eval"] - 0.2 * 1797) <= 10
    counts = Counter(labels_of(ws, "digits-eval"))
    assert set(counts) == set(range(10)) and max(counts.values()) - min(counts.values()) <= 2  # stratified
    pretrain_cols = json.loads(cli("datasets", "show", "digits-pretrain", "--json").stdout)["version"]["schema"]
    assert "label" not in [c["name"] for c in pretrain_cols]
    before = catalog_counts(ws)
    again = cli("split", "digits", "--into", "pretrain=0.7,finetune=0.1,eval=0.2", "--drop-labels", "pretrain")
    assert again.exit_code == 0 and again.stdout.count("unchanged") == 3
    assert catalog_counts(ws) == before
    other_seed = cli("split", "digits", "--into", "pretrain=0.7,finetune=0.1,eval=0.2", "--seed", "1", "--prefix", "d1")
    assert other_seed.exit_code == 0
    assert latest_digest(ws, "d1-eval") != latest_digest(ws, "digits-eval")


def test_per_class_caps(digits, ws):
    result = digits("split", "digits", "--into", "finetune=0.5,eval=0.5", "--per-class", "finetune=5")
    assert result.exit_code == 0, result.output
    assert Counter(labels_of(ws, "digits-finetune")) == dict.fromkeys(range(10), 5)
    assert "rows in no split:" in result.stdout


def test_lineage_links_children_to_parent(digits, ws):
    digits("split", "digits", "--into", "a=0.5,b=0.5")
    tree = digits("lineage", "digits")
    assert tree.exit_code == 0
    assert "source sklearn:digits (ingested)" in tree.stdout
    assert "digits-a@" in tree.stdout and "digits-b@" in tree.stdout
    mermaid = digits("lineage", "digits-a", "--format", "mermaid").stdout
    assert mermaid.startswith("flowchart LR\n") and "-->|split|" in mermaid and "-->|ingested|" in mermaid
    dot = digits("lineage", "digits-a", "--format", "dot").stdout
    assert dot.startswith("digraph lineage {") and '[label="split"]' in dot and dot.rstrip().endswith("}")
    bad = digits("lineage", "digits", "--format", "svg")
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: unknown lineage format 'svg'")


def make_duplicated_folder(root, n_unique=30, copies=5):
    for i in range(n_unique):
        cls = root / f"c{i % 2}"
        cls.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((4, 4), i * 7, dtype=np.uint8)).save(cls / f"u{i:03d}.png")
    for j in range(copies):  # exact pixel copies of image j, in the same class
        src = root / f"c{j % 2}" / f"u{j:03d}.png"
        (src.parent / f"z_copy{j}.png").write_bytes(src.read_bytes())
    return root


def test_duplicates_and_contamination_are_reported_then_removed(cli, ws, tmp_path):
    root = make_duplicated_folder(tmp_path / "dups")
    assert cli("ingest", root, "--name", "dups").exit_code == 0
    result = cli("split", "dups", "--into", "train=0.5,test=0.5", "--seed", "3")
    assert result.exit_code == 0
    assert "duplicates in parent: 5 row(s) in 5 group(s)" in result.stdout
    assert "identical row(s) are in both train and test (contamination)" in result.stderr
    clean = cli(
        "split", "dups", "--into", "train=0.5,test=0.5", "--seed", "3", "--dedupe", "exact", "--prefix", "clean"
    )
    assert clean.exit_code == 0, clean.output
    assert "5 removed by --dedupe" in clean.stdout and "overlap between splits: none" in clean.stdout
    total = sum(
        json.loads(cli("datasets", "show", f"clean-{s}", "--json").stdout)["version"]["rows"] for s in ("train", "test")
    )
    assert total == 30
    rejects = json.loads(cli("datasets", "show", "dups", "--json").stdout)["rejects"]
    assert len(rejects) == 5 and all(r["stage"] == "split-dedupe" for r in rejects)


def test_tabular_split_detects_duplicate_rows(cli, ws, tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("x,y\n" + "".join(f"{i % 40},{i % 40 * 2}\n" for i in range(50)))
    assert cli("ingest", src, "--name", "t").exit_code == 0
    result = cli("split", "t", "--into", "a=0.5,b=0.5", "--dedupe", "exact")
    assert "duplicates in parent: 10 row(s) in 10 group(s); 10 removed by --dedupe" in result.stdout


@pytest.mark.parametrize(
    ("into", "message"),
    [
        ("a=0.7,b=0.5", "split fractions add up to 1.2, more than 1"),
        ("a=0", "invalid split 'a=0'"),
        ("a", "invalid split 'a'"),
        ("a=0.5,a=0.5", "split 'a' is named twice"),
        ("x/y=0.5", "invalid dataset name 'x/y'"),
    ],
)
def test_bad_split_specs(into, message):
    with pytest.raises(InvalidInput, match=message):
        parse_into(into)


def test_bad_split_options(digits):
    result = digits("split", "digits", "--into", "a=0.5", "--drop-labels", "b")
    assert result.exit_code == 1 and result.stderr.startswith("Error: --drop-labels names ['b'], not in --into")
    result = digits("split", "nope", "--into", "a=0.5")
    assert result.exit_code == 1 and result.stderr.startswith("Error: unknown dataset 'nope'")
    with pytest.raises(InvalidInput, match="positive whole number"):
        parse_per_class("zero", {"a": 1.0})


def test_allocate_and_assign_units():
    assert _allocate(10, [0.7, 0.1, 0.2]) == [7, 1, 2]
    assert _allocate(3, [0.5, 0.5]) == [2, 1]
    assert sum(_allocate(7, [0.3, 0.3])) == 4
    labels = np.array([0] * 50 + [1] * 50)
    which = assign(labels, np.ones(100, bool), {"a": 0.8, "b": 0.2}, {}, seed=0)
    assert Counter(labels[which == 1]) == {0: 10, 1: 10}
    assert (assign(labels, np.ones(100, bool), {"a": 0.8, "b": 0.2}, {}, seed=0) == which).all()


def test_column_names_with_quotes_split(cli, ws, tmp_path):
    src = tmp_path / "q.csv"
    src.write_text('"say ""hi""",label\n' + "".join(f"{i},{i % 2}\n" for i in range(40)))
    assert cli("ingest", src, "--name", "q", "--label", "label").exit_code == 0
    result = cli("split", "q", "--into", "a=0.5,b=0.5", "--drop-labels", "b")
    assert result.exit_code == 0, result.output
    cols = json.loads(cli("datasets", "show", "q-b", "--json").stdout)["version"]["schema"]
    assert [c["name"] for c in cols] == ['say "hi"']


def test_rejects_name_their_source_in_row_order_and_history_says_what_a_split_came_from(cli, ws):
    import re

    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    assert cli("split", "digits", "--into", "a=0.5,b=0.5", "--dedupe", "near").exit_code == 0
    shown = cli("datasets", "show", "digits").stdout
    rows = [int(m[1]) for m in re.finditer(r"split-dedupe: row (\d+) \(digits/\d{4}\)", shown)]
    assert len(rows) >= 2 and rows == sorted(rows)  # named by source path, numerically ordered
    history = cli("datasets", "history", "digits-a").stdout
    assert "made from" in history and re.search(r"digits@[0-9a-f]{12}\b", history)

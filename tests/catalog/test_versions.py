"""Names, references and version registration."""

import json

import pytest

from datagov.catalog.db import open_catalog
from datagov.catalog.versions import check_name, parse_ref, resolve
from datagov.errors import AmbiguousReference, InvalidInput, NotFound
from tests.conftest import catalog_counts, store_folders


@pytest.mark.parametrize(
    "name", ["a/b", "..", "x..y", "it's", 'say"hi"', "a;DROP TABLE datasets;--", "a b", "", "-lead", "a\\b", "é"]
)
def test_unsafe_names_are_refused(cli, ws, tmp_path, name):
    src = tmp_path / "t.csv"
    src.write_text("a\n1\n")
    result = cli("ingest", src, "--name", name)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"Error: invalid dataset name {name!r}: use letters, digits, '.', '_' and '-' "
        "(up to 128 characters, starting with a letter or digit, no '..')"
    )
    assert catalog_counts(ws)["datasets"] == 0 and store_folders(ws) == []


def test_safe_names_pass():
    for name in ("digits", "digits-pretrain", "MNIST_v2.1", "a" * 128):
        assert check_name(name) == name
    with pytest.raises(InvalidInput):
        check_name("a" * 129)


def test_parse_ref():
    assert parse_ref("d@ABC1").digest_prefix == "abc1"
    with pytest.raises(InvalidInput, match="expected hexadecimal"):
        parse_ref("d@xyz")


def ingest_rows(cli, tmp_path, name, n):
    src = tmp_path / f"{name}-{n}.csv"
    src.write_text("v\n" + "".join(f"{i}\n" for i in range(n)))
    result = cli("ingest", src, "--name", name)
    assert result.exit_code == 0, result.output
    return result


def test_same_content_is_the_same_version(cli, ws, tmp_path):
    ingest_rows(cli, tmp_path, "d", 3)
    before = catalog_counts(ws)
    again = ingest_rows(cli, tmp_path, "d", 3)
    assert "unchanged (same content as the newest version)" in again.stdout
    assert catalog_counts(ws) == before


def test_new_content_gets_previous_as_parent(cli, ws, tmp_path):
    ingest_rows(cli, tmp_path, "d", 3)
    ingest_rows(cli, tmp_path, "d", 4)
    with open_catalog(ws) as con:
        newest = resolve(con, "d")
        first = resolve(con, f"d@{newest.parent_digest[:12]}")
    assert newest.rows == 4 and first.rows == 3 and first.parent_digest is None
    history = json.loads(cli("datasets", "history", "d", "--json").stdout)
    assert [h["rows"] for h in history] == [4, 3]


def test_identical_content_under_two_names_is_stored_once(cli, ws, tmp_path):
    ingest_rows(cli, tmp_path, "a", 5)
    ingest_rows(cli, tmp_path, "b", 5)
    assert len(store_folders(ws)) == 1
    assert catalog_counts(ws)["versions"] == 2


def test_unknown_dataset_and_digest(cli, ws, tmp_path):
    ingest_rows(cli, tmp_path, "d", 3)
    result = cli("datasets", "show", "nope")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "Error: unknown dataset 'nope'"
    result = cli("datasets", "show", "d@0000000000")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "Error: dataset 'd' has no version with digest 0000000000…"


def test_ambiguous_digest_prefix(cli, ws, tmp_path):
    digests = []
    n = 1
    while True:  # add versions until two digests share a first character
        ingest_rows(cli, tmp_path, "d", n)
        with open_catalog(ws) as con:
            digests.append(resolve(con, "d").digest)
        firsts = [d[0] for d in digests]
        shared = next((c for c in firsts if firsts.count(c) > 1), None)
        if shared:
            break
        n += 1
    with open_catalog(ws) as con, pytest.raises(AmbiguousReference):
        resolve(con, f"d@{shared}")
    result = cli("datasets", "show", f"d@{shared}")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: digest prefix '{shared}' matches 2 versions of 'd' (")
    with open_catalog(ws) as con, pytest.raises(NotFound):
        resolve(con, "d@" + ("0" if shared != "0" else "1") * 64)


def test_metadata_is_kept_and_updated(cli, ws, tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a\n1\n")
    cli("ingest", src, "--name", "d", "--owner", "ann", "--license", "MIT", "--tag", "team=x")
    cli("ingest", src, "--name", "d", "--tag", "stage=raw", "--description", "numbers")
    meta = json.loads(cli("datasets", "show", "d", "--json").stdout)["dataset"]
    assert (meta["owner"], meta["license"], meta["description"]) == ("ann", "MIT", "numbers")
    assert meta["tags"] == {"team": "x", "stage": "raw"}
    bad = cli("ingest", src, "--name", "d", "--tag", "novalue")
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: invalid tag 'novalue': expected KEY=VALUE")


def test_modality_cannot_change(cli, ws, tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a\n1\n")
    cli("ingest", src, "--name", "d")
    result = cli("ingest", "sklearn:digits", "--name", "d")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "Error: dataset 'd' holds tabular data; this source is image"
    assert len(store_folders(ws)) == 1  # the digits' staged files did not land in the store

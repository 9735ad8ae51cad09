"""A workspace whose store is a bucket on a real S3-compatible server
(moto's, on 127.0.0.1): every command runs against it, a changed object is
caught by name, and a writer killed mid-ingest leaves nothing the next writer
does not remove."""

import json
import shutil
import signal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datagov.catalog.db import open_catalog
from datagov.catalog.locations import locate
from tests.audit.conftest import QUICK
from tests.conftest import REPO, run_datagov, s3_admin, set_setting, tmp_entries
from tests.training.conftest import SPEC, TINY, TRANSFER


def use_bucket(ws, url: str) -> None:
    config = ws.root / "datagov.toml"
    set_setting(config.parent, "store", "url", f'"{url}"')


def objects(endpoint: str, url: str) -> list[str]:
    from pyarrow import fs

    path = url.removeprefix("s3://")
    infos = s3_admin(endpoint).get_file_info(fs.FileSelector(path, recursive=True, allow_not_found=True))
    return sorted(i.path[len(path) + 1 :] for i in infos if i.type == fs.FileType.File)


def object_of(ws, dataset: str) -> tuple[str, str]:
    with open_catalog(ws) as con:
        digest = con.execute("SELECT digest FROM versions WHERE dataset = ?", [dataset]).fetchall()[0][0]
        files = locate(ws, con, digest, dataset)
    return files.root, files.names[0]


def test_every_command_runs_on_a_bucket_store_and_a_changed_object_is_caught(cli, ws, bucket, s3_server):
    store = f"{bucket}/datagov"
    use_bucket(ws, store)
    for suite in ("digits-pretrain", "digits-labelled"):
        shutil.copy(REPO / "expectations" / f"{suite}.json", ws.expectations_dir)
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    assert cli("split", "digits", "--into", "pretrain=0.7,finetune=0.1,eval=0.2",
               "--drop-labels", "pretrain", "--dedupe", "near").exit_code == 0  # fmt: skip
    assert not any(ws.store_dir.iterdir()), "nothing is written to the local store"
    root, name = object_of(ws, "digits-pretrain")
    assert root.startswith(store + "/") and f"{root.removeprefix(store + '/')}/{name}" in objects(s3_server, store)
    for dataset, suite in (("digits-pretrain", "digits-pretrain"), ("digits-finetune", "digits-labelled"),
                           ("digits-eval", "digits-labelled")):  # fmt: skip
        result = cli("validate", dataset, "--suite", suite)
        assert result.exit_code == 0, result.output
    result = cli("pretrain", SPEC, *TINY, "--no-progress")
    assert result.exit_code == 0, result.output
    assert cli("expectations", "match", "digits-pretrain", "--suite", "digits-pretrain-match").exit_code == 0
    assert cli("validate", "digits-finetune", "--suite", "digits-pretrain-match").exit_code == 0
    for reference in ("digits-finetune", "digits-pretrain"):  # read from the bucket, verified as read
        assert cli("contamination", reference, "digits-eval").exit_code == 0
    result = cli("transfer", TRANSFER, *QUICK, "--strategy", "features", "--no-progress")
    assert result.exit_code == 0, result.output
    assert cli("shift", "digits-pretrain", "digits-eval", "--encoder", "none").exit_code in (0, 3)
    assert cli("datasets", "verify", "digits-pretrain").exit_code == 0
    assert cli("audit", "run", "--dataset", "digits-pretrain").exit_code == 0

    # Someone rewrites an object in the bucket.
    key = f"{root.removeprefix('s3://')}/{name}"
    admin = s3_admin(s3_server)
    with admin.open_output_stream(key) as out:
        out.write(b"PAR1 not the bytes that were validated PAR1")
    quick = cli("datasets", "verify", "digits-pretrain", "--quick")
    assert quick.exit_code == 3 and name in quick.output
    full = cli("datasets", "verify", "digits-pretrain")
    assert full.exit_code == 3 and name in full.output
    near = cli("dedup", "digits-pretrain")  # reads only verified bytes
    assert near.exit_code == 3 and "no longer matches its manifest" in near.stderr and name in near.stderr
    gate = cli("pretrain", SPEC, *TINY, "--no-progress")
    assert gate.exit_code == 3 and name in gate.output  # changed bytes: no waiver could cover them
    audit = cli("audit", "run", "--dataset", "digits-pretrain", "--json")
    assert audit.exit_code == 3
    doc = json.loads(audit.stdout)
    assert any(name in f["message"] for v in doc["versions"] for f in v["findings"])
    assert doc["versions"][0]["models"] == ["digits-autoencoder/1"]


def test_the_bucket_holds_only_what_the_catalog_references_after_a_kill(ws, bucket, s3_server):
    store = f"{bucket}/store"
    use_bucket(ws, store)
    for point in ("s3:uploaded", "register:published"):
        proc = run_datagov(
            "--workspace", ws.root, "ingest", "sklearn:digits", "--name", "d", env={"DATAGOV_FAULT": point}
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        assert objects(s3_server, store), "the killed writer had uploaded its parts"
        listing = run_datagov("--workspace", ws.root, "datasets", "list")  # a reader: deletes nothing
        assert "No datasets yet" in listing.stdout and objects(s3_server, store)
        assert run_datagov("--workspace", ws.root, "init", ws.root).returncode == 0  # a writer sweeps
        assert objects(s3_server, store) == []
    again = run_datagov("--workspace", ws.root, "ingest", "sklearn:digits", "--name", "d")
    assert again.returncode == 0, again.stderr
    root, _ = object_of(ws, "d")
    assert {o.split("/")[0] for o in objects(s3_server, store)} == {root.rsplit("/", 1)[1]}
    assert sorted(p.name for p in ws.tmp_dir.iterdir()) == []


def test_ingesting_the_same_content_again_uploads_nothing_new(cli, ws, bucket, s3_server):
    store = f"{bucket}/store"
    use_bucket(ws, store)
    assert cli("ingest", "sklearn:digits", "--name", "a").exit_code == 0
    first = objects(s3_server, store)
    assert cli("ingest", "sklearn:digits", "--name", "b").exit_code == 0
    assert cli("ingest", "sklearn:digits", "--name", "a").exit_code == 0
    assert objects(s3_server, store) == first


def shards(admin, prefix: str, n: int = 3) -> None:
    for i in range(n):
        table = pa.table({"x": [i * 10 + j for j in range(10)], "label": [j % 2 for j in range(10)]})
        with admin.open_output_stream(f"{prefix}/part-{i}.parquet") as out:
            pq.write_table(table, out)


def test_shards_in_a_bucket_are_registered_in_place_and_changes_are_named(cli, ws, bucket, s3_server):
    admin = s3_admin(s3_server)
    raw = f"{bucket.removeprefix('s3://')}/raw"
    shards(admin, raw)
    result = cli("ingest", f"{bucket}/raw", "--name", "raw", "--in-place", "--label", "label")
    assert result.exit_code == 0, result.output
    assert "registered in place" in result.output
    assert objects(s3_server, f"{bucket}/raw") == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    with open_catalog(ws) as con:
        files = locate(ws, con, *con.execute("SELECT digest, dataset FROM versions").fetchall()[0])
    assert files.in_place and files.root == f"{bucket}/raw" and all(e.etag for e in files.entries)
    assert cli("expectations", "suggest", "raw", "--suite", "raw").exit_code == 0
    assert cli("validate", "raw", "--suite", "raw").exit_code == 0
    assert cli("datasets", "verify", "raw").exit_code == 0

    with admin.open_output_stream(f"{raw}/part-0.parquet") as out:  # changed
        pq.write_table(pa.table({"x": [666] * 10, "label": [0] * 10}), out)
    admin.delete_file(f"{raw}/part-1.parquet")  # deleted
    shards(admin, f"{raw}/more", 1)  # added
    result = cli("datasets", "verify", "raw")
    assert result.exit_code == 3
    lines = [line.split() for line in result.output.splitlines() if line.startswith("  ")]
    found = {path.rstrip(":"): problem for problem, path, *_ in lines}
    assert found.keys() == {"part-0.parquet", "part-1.parquet", "more/part-0.parquet"}
    assert found["part-0.parquet"] in ("size", "hash") and found["part-1.parquet"] == "missing"
    assert found["more/part-0.parquet"] == "added"
    refused = cli("validate", "raw", "--suite", "raw")
    assert refused.exit_code == 3 and "part-1.parquet" in refused.output
    audit = cli("audit", "run", "--dataset", "raw", "--json")
    assert audit.exit_code == 3
    messages = " ".join(f["message"] for v in json.loads(audit.stdout)["versions"] for f in v["findings"])
    assert all(n in messages for n in ("part-0.parquet", "part-1.parquet", "more/part-0.parquet"))


def test_the_same_bytes_in_two_prefixes_are_each_verified_where_they_are(cli, ws, bucket, s3_server):
    """One digest, two places: the second dataset is checked in its own prefix, not the first's."""
    admin = s3_admin(s3_server)
    for prefix in ("a", "b"):
        shards(admin, f"{bucket.removeprefix('s3://')}/{prefix}")
    assert cli("ingest", f"{bucket}/a", "--name", "first", "--in-place").exit_code == 0
    assert cli("ingest", f"{bucket}/b", "--name", "second", "--in-place").exit_code == 0
    assert cli("expectations", "suggest", "second", "--suite", "second").exit_code == 0
    assert cli("validate", "second", "--suite", "second").exit_code == 0
    admin.delete_dir_contents(f"{bucket.removeprefix('s3://')}/b")
    for args in (["datasets", "verify", "second"], ["validate", "second", "--suite", "second"],
                 ["split", "second", "--into", "x=0.5,y=0.5"]):  # fmt: skip
        result = cli(*args)
        assert result.exit_code == 3 and "part-0.parquet" in result.output, (args, result.output)
    assert cli("datasets", "verify", "first").exit_code == 0


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('"file:///tmp/x"', 'use "s3://bucket/prefix"'),
        ('"s3://ab/x"', "invalid bucket name 'ab'"),
        ('"s3://bucket/a/../b"', "invalid key prefix"),
        ("3", "is not a string"),
    ],
)
def test_a_bad_store_url_is_one_error_line(cli, ws, setting, message):
    config = ws.root / "datagov.toml"
    set_setting(config.parent, "store", "url", setting)
    result = cli("ingest", "sklearn:digits", "--name", "d")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output


def test_an_unreachable_store_names_the_settings_to_check(cli, ws, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    use_bucket(ws, "s3://nowhere/store")
    result = cli("ingest", "sklearn:digits", "--name", "d")
    assert result.exit_code == 1
    assert (
        result.output.startswith("Error: cannot write to s3://nowhere/store/") and "AWS_ENDPOINT_URL" in result.output
    )
    assert tmp_entries(ws) == []  # the store took nothing: no note is left for a later writer


def test_an_upload_the_store_refused_is_left_to_the_next_writer_by_its_note(cli, ws, bucket, s3_server, monkeypatch):
    from datagov.processes import host_id

    store = f"{bucket}/store"
    use_bucket(ws, store)
    admin = s3_admin(s3_server)
    name = f"4194000-{host_id()}-0123456789ab"  # a writer that uploaded, then lost the store, then died
    with admin.open_output_stream(f"{store.removeprefix('s3://')}/{name}/part-00000.parquet") as out:
        out.write(b"half an upload")
    note = ws.tmp_dir / f"4194000-0123456789ab.{'0' * 12}.pending"
    ws.tmp_dir.mkdir(exist_ok=True)
    note.write_text(json.dumps({"digest": "0" * 64, "remote": f"{store}/{name}"}))
    forged = ws.tmp_dir / f"4194001-0123456789ab.{'1' * 12}.pending"  # a note naming data datagov did not write
    forged.write_text(json.dumps({"digest": "1" * 64, "remote": f"{bucket}/precious"}))
    with admin.open_output_stream(f"{bucket.removeprefix('s3://')}/precious/data.bin") as out:
        out.write(b"keep me")
    assert cli("init", ws.root, workspace=False).exit_code == 0  # a writer: sweeps
    assert objects(s3_server, store) == []
    assert objects(s3_server, f"{bucket}/precious") == ["data.bin"]
    assert not note.exists() and not forged.exists()


def test_an_object_that_is_not_parquet_is_refused_by_name(cli, bucket, s3_server):
    admin = s3_admin(s3_server)
    raw = f"{bucket.removeprefix('s3://')}/raw"
    shards(admin, raw, 1)
    with admin.open_output_stream(f"{raw}/broken.parquet") as out:
        out.write(b"this is not a parquet file")
    result = cli("ingest", f"{bucket}/raw", "--name", "raw", "--in-place")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {bucket}/raw/broken.parquet is not a readable Parquet file")


def test_a_verified_copy_touched_on_disk_is_downloaded_again(cli, ws, bucket):
    from datagov.store import sha256_file
    from datagov.workspace import load_workspace

    use_bucket(ws, f"{bucket}/store")
    assert cli("ingest", "sklearn:digits", "--name", "d").exit_code == 0
    ws = load_workspace(ws.root)
    with open_catalog(ws) as con:
        files = locate(ws, con, *con.execute("SELECT digest, dataset FROM versions").fetchall()[0])
    first = files.usable(ws.tmp_dir)
    assert files.usable(ws.tmp_dir) is first  # reused while nothing touched it
    (path,) = first.paths
    with open(path, "r+b") as fh:  # a byte changed in the private copy
        fh.seek(100)
        fh.write(b"\x00")
    again = files.usable(ws.tmp_dir)
    assert again is not first and sha256_file(again.paths[0]) == files.entries[0].sha256


def digit_shards(admin, prefix: str, n_shards: int = 3, per_shard: int = 40) -> None:
    """WebDataset shards of real 8x8 digits (PNG + .cls) written to the bucket."""
    import io
    import tarfile

    import numpy as np
    from sklearn.datasets import load_digits

    from tests.conftest import png_bytes

    digits = load_digits()
    pixels = (digits.images * 255 / 16).astype(np.uint8)
    for s in range(n_shards):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for i in range(s * per_shard, (s + 1) * per_shard):
                for ext, data in (("png", png_bytes(pixels[i])), ("cls", str(digits.target[i]).encode())):
                    info = tarfile.TarInfo(f"{i:05d}.{ext}")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
        with admin.open_output_stream(f"{prefix}/shard-{s:04d}.tar") as out:
            out.write(buf.getvalue())


def test_webdataset_shards_in_a_bucket_are_trained_on_in_place_and_changes_are_named(cli, ws, bucket, s3_server):
    admin = s3_admin(s3_server)
    prefix = f"{bucket.removeprefix('s3://')}/wds"
    digit_shards(admin, prefix)
    result = cli("ingest", f"{bucket}/wds", "--name", "web", "--in-place")
    assert result.exit_code == 0, result.output
    assert "webdataset" in result.output and "registered in place" in result.output
    assert not any(ws.store_dir.iterdir())
    with open_catalog(ws) as con:
        files = locate(ws, con, *con.execute("SELECT digest, dataset FROM versions").fetchall()[0])
    assert files.layout == "webdataset" and all(e.etag for e in files.entries)
    assert [e.rows for e in files.entries] == [40, 40, 40]
    assert cli("expectations", "suggest", "web", "--suite", "web").exit_code == 0
    assert cli("validate", "web", "--suite", "web").exit_code == 0
    result = cli("pretrain", SPEC, *TINY, "data.dataset=web", "data.suites=[web]", "--no-progress")
    assert result.exit_code == 0, result.output
    assert cli("datasets", "verify", "web", "--quick").exit_code == 0

    with admin.open_output_stream(f"{prefix}/shard-0001.tar") as out:  # rewritten
        out.write(b"\0" * 512)
    admin.delete_file(f"{prefix}/shard-0002.tar")  # deleted
    digit_shards(admin, f"{prefix}/more", n_shards=1, per_shard=2)  # added
    result = cli("datasets", "verify", "web", "--quick")
    assert result.exit_code == 3
    found = {line.split()[1].rstrip(":"): line.split()[0] for line in result.output.splitlines() if line[:2] == "  "}
    assert found == {"shard-0001.tar": "size", "shard-0002.tar": "missing", "more/shard-0000.tar": "added"}
    gate = cli("pretrain", SPEC, *TINY, "data.dataset=web", "data.suites=[web]", "--no-progress")
    assert gate.exit_code == 3 and "shard-0002.tar" in gate.output
    audit = cli("audit", "run", "--dataset", "web", "--json")
    assert audit.exit_code == 3
    doc = json.loads(audit.stdout)
    messages = " ".join(f["message"] for v in doc["versions"] for f in v["findings"])
    assert all(n in messages for n in ("shard-0001.tar", "shard-0002.tar", "more/shard-0000.tar"))
    assert doc["versions"][0]["models"] == ["digits-autoencoder/1"]


def test_parquet_and_tar_shards_in_a_bucket_are_copied_by_ingest(cli, ws, bucket, s3_server):
    admin = s3_admin(s3_server)
    raw = f"{bucket.removeprefix('s3://')}/raw"
    shards(admin, raw)
    digit_shards(admin, f"{raw}/wds", n_shards=2, per_shard=5)
    result = cli("ingest", f"{bucket}/raw/part-*.parquet", "--name", "table", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "30" in result.output  # rows of the three shards
    result = cli("ingest", f"{bucket}/raw/wds", "--name", "web", "--format", "webdataset", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "10" in result.output and "stored" in result.output
    result = cli("ingest", f"{bucket}/raw/wds", "--name", "web2", "--no-progress")
    assert result.exit_code == 1 and "pass --format parquet or --format webdataset" in result.output
    assert cli("ingest", f"{bucket}/raw/wds/*.tar", "--name", "web3", "--no-progress").exit_code == 0


@pytest.mark.parametrize("multipart", [False, True], ids=["single-part", "multipart"])
def test_an_object_replaced_while_it_is_read_is_an_error_not_a_digest(bucket, s3_server, multipart):
    """Ranged reads cannot be pinned to one object: the bytes are held to the ETag afterwards."""
    from datagov.store import s3

    admin = s3_admin(s3_server)
    path = f"{bucket.removeprefix('s3://')}/big.bin"
    size = 3 * s3.CHUNK  # three ranged reads
    # pyarrow uploads a stream in parts once it passes its part size; one write of a buffer is one PUT
    with admin.open_output_stream(path) as out:
        if multipart:
            for _ in range(3):
                out.write(b"a" * s3.CHUNK)
        else:
            out.write(b"a" * size)
    url = s3.S3Url.parse(f"{bucket}/big.bin")
    assert len(s3.read_hashed(url)[0]) == 64  # untouched, it reads

    def replace_after_the_first_block(block: bytes, done=[]) -> None:  # noqa: B006
        if not done:
            done.append(True)
            with admin.open_output_stream(path) as out:
                out.write(b"b" * size)

    with pytest.raises(s3.StoreError, match="changed while it was read"):
        s3.read_hashed(url, replace_after_the_first_block)


def test_a_missing_bucket_and_a_server_that_is_no_s3_are_named(cli, bucket, s3_server, monkeypatch):
    """pyarrow lists both as empty; neither may read as "no shards there"."""
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    for mode in ([], ["--in-place"]):
        gone = cli("ingest", "s3://no-such-bucket/raw", "--name", "x", *mode)
        assert gone.exit_code == 1 and f"bucket 'no-such-bucket' does not exist at {s3_server}" in gone.stderr
    web = ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{web.server_address[1]}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        for mode in ([], ["--in-place"]):
            other = cli("ingest", f"{bucket}/raw", "--name", "x", *mode)
            assert other.exit_code == 1, other.output
            assert f"{endpoint} does not answer as an S3-compatible server" in other.stderr
    finally:
        web.shutdown()
        web.server_close()

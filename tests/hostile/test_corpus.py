"""The hostile-input corpus: every case is one command run against a real
workspace (digits ingested, split and validated; real DuckDB, Parquet, GX).

Each case asserts the documented exit code, exactly one `Error:` line on
stderr, no traceback, and that nothing was written: no catalog row, no file
in the workspace (store, cache, reports, suites), nothing outside it. Cases
that plant a payload also assert that its marker file never appears.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from datagov.workspace import Workspace
from tests.conftest import REPO, Cli
from tests.hostile import payloads

TABLES = ("datasets", "versions", "files", "rejects", "lineage", "receipts", "runs", "waivers", "drift_reports",
          "audits", "audit_results", "promotions", "caches", "model_artifacts")  # fmt: skip
VOLATILE = {"catalog/.lock", "catalog/catalog.duckdb", "catalog/catalog.duckdb.wal"}
SPEC = REPO / "pipelines" / "pretrain-digits.yaml"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    from datagov.layout import init_workspace

    ws, _ = init_workspace(tmp_path_factory.mktemp("template") / "ws")
    cli = Cli(ws)
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    into = "pretrain=0.7,finetune=0.1,eval=0.2"
    assert cli("split", "digits", "--into", into, "--drop-labels", "pretrain").exit_code == 0
    for name in ("digits-pretrain", "digits-labelled"):
        shutil.copy(REPO / "expectations" / f"{name}.json", ws.expectations_dir)
    assert cli("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    nested = ws.root.parent / "nested.jsonl"
    nested.write_text(
        '{"id": 1, "meta": {"a": [1, 2], "b": {"c": "x"}}}\n{"id": 2, "meta": {"a": [3], "b": {"c": "y"}}}\n'
    )
    assert cli("ingest", nested, "--name", "nested").exit_code == 0
    return ws.root


def snapshot(ws: Workspace, outside: Path) -> dict:
    """Everything a command could have written: catalog rows, workspace files, files beside it."""
    from datagov.catalog.db import open_catalog

    with open_catalog(ws) as con:  # a reader: opening sweeps nothing
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    files = {}
    for root in (ws.root, outside):
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(ws.root).as_posix() if path.is_relative_to(ws.root) else f"outside:{path.name}"
            if path.is_file() and not path.is_symlink() and rel not in VOLATILE:
                files[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"rows": counts, "files": files}


@dataclass
class Case:
    id: str
    args: list[str]
    code: int
    says: str  # a fragment of the Error line
    setup: Callable[[Workspace, Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    marker: str | None = None  # a payload's marker file, relative to the case folder


def write(rel: str, data: bytes | str) -> Callable[[Workspace, Path], None]:
    def setup(ws: Workspace, tmp: Path) -> None:
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())

    return setup


def in_ws(rel: str, data: bytes | str) -> Callable[[Workspace, Path], None]:
    def setup(ws: Workspace, tmp: Path) -> None:
        path = ws.root / rel
        path.write_bytes(data if isinstance(data, bytes) else data.encode())

    return setup


def suite_with(name: str, expectations: list[dict]) -> Callable[[Workspace, Path], None]:
    return lambda ws, tmp: payloads.suite(ws.expectations_dir / f"{name}.json", expectations) and None


def folder_with(build: Callable[[Path], None]) -> Callable[[Workspace, Path], None]:
    def setup(ws: Workspace, tmp: Path) -> None:
        root = payloads.image_folder(tmp / "imgs")
        build(root)

    return setup


def link_file(root: Path) -> None:
    (root / "a" / "leak.png").symlink_to(root.parent / "secret.png")
    (root.parent / "secret.png").write_bytes(payloads.png(payloads.np.zeros((8, 8), payloads.np.uint8)))


def link_class(root: Path) -> None:
    (root.parent / "elsewhere").mkdir()
    (root.parent / "elsewhere" / "x.png").write_bytes(payloads.png(payloads.np.zeros((8, 8), payloads.np.uint8)))
    (root / "c").symlink_to(root.parent / "elsewhere")


def add_file(rel: str, data: bytes) -> Callable[[Path], None]:
    return lambda root: (root / rel).write_bytes(data) and None


def flip_store_bit(ws: Workspace, tmp: Path) -> None:
    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import resolve

    with open_catalog(ws) as con:
        digest = resolve(con, "digits-pretrain").digest
    part = ws.store_dir / digest / "part-00000.parquet"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the image bytes: same size, new content
    part.write_bytes(bytes(data))


def store_file_as_link(ws: Workspace, tmp: Path) -> None:
    """The same bytes, moved out of the store and linked back in."""
    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import resolve

    with open_catalog(ws) as con:
        digest = resolve(con, "digits-pretrain").digest
    part = ws.store_dir / digest / "part-00000.parquet"
    moved = tmp / "part-00000.parquet"
    part.rename(moved)
    part.symlink_to(moved)


def spec(text: str | bytes) -> Callable[[Workspace, Path], None]:
    return write("spec.yaml", text)


def spec_override(*lines: str) -> Callable[[Workspace, Path], None]:
    base = SPEC.read_text()
    return spec(base + "\n".join(lines) + "\n")


GOOD_PNG = payloads.png(payloads.np.zeros((4, 4), payloads.np.uint8))


def _labelled(ext: str, data: bytes) -> Callable[[], bytes]:
    return lambda: payloads.tar_of(payloads.tar_member("s1.png", GOOD_PNG), payloads.tar_member(f"s1.{ext}", data))


WEBDATASET_HEADERS = [  # refused at registration, copied or in place
    ("pax-size-1e30", lambda: payloads.tar_with_pax(payloads.pax_record("size", str(10**30))), "pax size of 31 digits"),
    ("pax-size-twelve", lambda: payloads.tar_with_pax(payloads.pax_record("size", "twelve")), "pax size 'twelve'"),
    (
        "pax-record-length-not-a-number",
        lambda: payloads.tar_with_pax(payloads.pax_record("path", "b.png", length="zz")),
        "corrupt pax header (a record length reads b'zz')",
    ),
    *(
        (f"base256-size-2e{p}", lambda p=p: payloads.tar_of(payloads.tar_member("s1.png", GOOD_PNG,
                                                                            payloads.base256_size(2**p))),
         "a corrupt or hostile header")
        for p in (63, 80)
    ),
]  # fmt: skip
WEBDATASET_LABELS = [  # read when the images are: at ingest (in place: when used, see tests/sources)
    ("cls-4000-digits", _labelled("cls", b"9" * 4000), "s1.cls holds a class id of 4,000 digits"),
    ("cls-2e63", _labelled("cls", str(2**63).encode()), "s1.cls holds class id 9223372036854775808"),
    ("cls-negative", _labelled("cls", b"-1"), "s1.cls holds class id -1"),
    ("json-label-1e30", _labelled("json", b'{"label": ' + str(10**30).encode() + b"}"), "a class id of 31 digits"),
    ("json-100000-deep", _labelled("json", b"[" * 100_000 + b"]" * 100_000), "s1.json nests too deeply"),
]

IMPORT_DECLARE = ["--arch", "resnet18", "--trained-on", "somewhere", "--license", "MIT"]


def weights(name: str, change: Callable[[dict], None] = lambda state: None) -> Callable[[Workspace, Path], None]:
    """A ResNet-18 encoder state dict for 1x8x8 images, changed by `change`, saved under `name`."""

    def setup(ws: Workspace, tmp: Path) -> None:
        import torch
        from safetensors.torch import save_file

        from datagov.pixels.shape import ImageShape
        from datagov.training.backbones import backbone_encoder

        state = {
            k: v.contiguous() for k, v in backbone_encoder("resnet18", ImageShape(1, 8, 8), 16).state_dict().items()
        }
        change(state)
        if name.endswith(".safetensors"):
            save_file(state, str(tmp / name))
        else:
            torch.save(state, tmp / name)

    return setup


def _set(key: str, make: Callable[[], object]) -> Callable[[dict], None]:
    return lambda state: state.__setitem__(key, make())


def _torch():
    import torch

    return torch


def _sparse(ws: Workspace, tmp: Path) -> None:
    """20 GB of nothing, beside the case folder (the snapshot must not read it)."""
    with open(tmp.parent / "big.safetensors", "wb") as fh:
        fh.truncate(20 * 10**9)


IMPORTS = [
    ("fc-0-d", "w.safetensors", ["--shape", "1,8,8"],
     weights("w.safetensors", _set("fc.weight", lambda: _torch().tensor(1.0))),
     "fc.weight has shape (); a linear layer's weight is 2-D"),
    ("fc-1e9-by-0", "w.safetensors", ["--shape", "1,8,8"],
     weights("w.safetensors", _set("fc.weight", lambda: _torch().empty(10**9, 0))),
     "the latent size) must be 1..65,536"),
    ("fc-zero-width", "w.safetensors", ["--shape", "1,8,8"],
     weights("w.safetensors", lambda st: (st.__setitem__("fc.weight", _torch().empty(0, 512)),
                                          st.__setitem__("fc.bias", _torch().empty(0)))),
     "must be 1..65,536"),
    ("int8-weights", "w.safetensors", ["--shape", "1,8,8"],
     weights("w.safetensors", lambda st: st.__setitem__("conv1.weight", st["conv1.weight"].to(_torch().int8))),
     "conv1.weight holds torch.int8 values, not floating-point weights"),
    ("bool-weights", "w.pth", ["--shape", "1,8,8"],
     weights("w.pth", lambda st: st.__setitem__("fc.weight", st["fc.weight"] > 0)), "holds torch.bool values"),
    ("shape-huge", "w.safetensors", ["--shape", "1,99999999999999999999,32"], weights("w.safetensors"),
     "sides 1..4,096 pixels"),
    ("alias-traversal", "w.safetensors", ["--shape", "1,8,8", "--alias", "../x"], weights("w.safetensors"),
     "invalid alias name"),
    ("fifo", "w.pth", ["--shape", "1,8,8"], lambda ws, tmp: os.mkfifo(tmp / "w.pth"), "is not a regular file"),
    ("dev-zero", "w.safetensors", ["--shape", "1,8,8"], lambda ws, tmp: (tmp / "w.safetensors").symlink_to("/dev/zero"),
     "is not a regular file"),
    ("sparse-20-gb", "../big.safetensors", ["--shape", "1,8,8"], _sparse, "over the 4,294,967,296 a weights file"),
]  # fmt: skip

MARK = "pwned.txt"
COPY_PAYLOAD = "SELECT * FROM {batch} WHERE false; COPY (SELECT 'x') TO '{tmp}/pwned.txt'"
RAGGED = "a,b,c\n1,2,3\n4,5,6,7\n8,9,10,11\n12,13,14,15\n"

CASES = [
    # --- ingest: honest sources
    Case(
        "csv-wider-rows-after-header",
        ["ingest", "{tmp}/r.csv", "--name", "r"],
        1,
        "line 3 has 4 fields",
        write("r.csv", RAGGED),
    ),
    Case(
        "csv-short-then-long",
        ["ingest", "{tmp}/r.csv", "--name", "r"],
        1,
        "line 3 has 2 fields",
        write("r.csv", "a,b,c\n1,2,3\n4,5\n6,7,8,9\n"),
    ),
    Case(
        "csv-short-last-row",
        ["ingest", "{tmp}/r.csv", "--name", "r"],
        1,
        "line 4 has 2 fields",
        write("r.csv", "a,b,c\n1,2,3\n4,5,6\n7,8\n"),
    ),
    Case(
        "csv-unterminated-quote",
        ["ingest", "{tmp}/r.csv", "--name", "r"],
        1,
        "cannot read CSV",
        write("r.csv", 'a,b\n1,2\n"x\n'),
    ),
    Case("csv-empty", ["ingest", "{tmp}/e.csv", "--name", "e"], 1, "source is empty", write("e.csv", "")),
    *(
        Case(
            f"csv-3-mib-cell{cid}",
            ["ingest", "{tmp}/long.csv", "--name", "l", *extra],
            1,
            "line 3 is longer than 2,000,000 bytes",
            write("long.csv", "a,b\n0,z\n1," + "x" * (3 << 20) + "\n"),
        )
        for cid, extra in (("", []), ("-as-label", ["--label", "b"]))
    ),
    Case("csv-header-only", ["ingest", "{tmp}/h.csv", "--name", "h"], 1, "no rows", write("h.csv", "a,b\n")),
    Case(
        "csv-10000-columns",
        ["ingest", "{tmp}/w.csv", "--name", "w"],
        1,
        "10,000 columns, over the limit",
        write("w.csv", ",".join(f"c{i}" for i in range(10_000)) + "\n" + ",".join("1" * 10_000) + "\n"),
    ),
    Case("source-missing", ["ingest", "{tmp}/nope.csv", "--name", "n"], 1, "source not found"),
    Case(
        "unknown-format",
        ["ingest", "{tmp}/r.csv", "--name", "r", "--format", "xls"],
        1,
        "unknown format",
        write("r.csv", "a\n1\n"),
    ),
    Case("name-traversal", ["ingest", "sklearn:digits", "--name", "../x"], 1, "invalid dataset name"),
    Case("name-too-long", ["ingest", "sklearn:digits", "--name", "x" * 200], 1, "invalid dataset name"),
    Case("bad-tag", ["ingest", "sklearn:digits", "--name", "d2", "--tag", "novalue"], 1, "invalid tag"),
    Case(
        "label-column-missing",
        ["ingest", "{tmp}/r.csv", "--name", "r", "--label", "y"],
        1,
        "label column 'y' is not in",
        write("r.csv", "a,b\n1,2\n"),
    ),
    Case(
        "jsonl-broken",
        ["ingest", "{tmp}/r.jsonl", "--name", "r"],
        1,
        "cannot read jsonl",
        write("r.jsonl", '{"a": 1}\n{"a": \n'),
    ),
    Case(
        "npz-with-pickle",
        ["ingest", "{tmp}/x.npz", "--name", "x"],
        1,
        "Object arrays cannot be loaded when allow_pickle=False",
        lambda ws, tmp: payloads.np.savez(tmp / "x.npz", a=payloads.np.array([{"k": 1}], dtype=object)),
    ),
    Case(
        "npz-inflates-to-8-gib",
        ["ingest", "{tmp}/x.npz", "--name", "x"],
        1,
        "is 8.01 GiB uncompressed (8600000000 uint8), over the limit of 4.00 GiB",
        lambda ws, tmp: payloads.npz_bomb(tmp / "x.npz") and None,
    ),
    # --- WebDataset shards whose headers or labels lie
    *(
        Case(
            f"webdataset-{cid}{'-in-place' if place else ''}",
            ["ingest", "{tmp}/web", "--name", "w", *place],
            1,
            says,
            lambda ws, tmp, shard=shard: payloads.webdataset_folder(tmp / "web", shard()) and None,
        )
        for cid, shard, says in WEBDATASET_HEADERS
        for place in ([], ["--in-place"])
    ),
    *(
        Case(
            f"webdataset-{cid}",
            ["ingest", "{tmp}/web", "--name", "w"],
            1,
            says,
            lambda ws, tmp, shard=shard: payloads.webdataset_folder(tmp / "web", shard()) and None,
        )
        for cid, shard, says in WEBDATASET_LABELS
    ),
    Case(
        "parquet-folder-with-symlink",
        ["ingest", "{tmp}/pq", "--name", "p", "--format", "parquet"],
        1,
        "is a symlink",
        lambda ws, tmp: _parquet_folder_with_link(tmp),
    ),
    Case("image-symlinked-file", ["ingest", "{tmp}/imgs", "--name", "i"], 1, "is a symlink", folder_with(link_file)),
    Case("image-symlinked-class", ["ingest", "{tmp}/imgs", "--name", "i"], 1, "is a symlink", folder_with(link_class)),
    Case(
        "image-bad-idat-crc",
        ["ingest", "{tmp}/imgs", "--name", "i"],
        1,
        "CRC mismatch",
        folder_with(add_file("a/bad.png", payloads.bad_crc_png())),
    ),
    Case(
        "image-20000x20000",
        ["ingest", "{tmp}/imgs", "--name", "i"],
        1,
        "over the limit of 40,000,000",
        folder_with(add_file("a/huge.png", payloads.huge_png(20_000, 20_000))),
    ),
    Case(
        "image-palette-bomb",
        ["ingest", "{tmp}/imgs", "--name", "i"],
        1,
        "144,000,000 pixels",
        folder_with(add_file("b/bomb.png", payloads.huge_png(12_000, 12_000, palette=True))),
    ),
    Case(
        "image-truncated",
        ["ingest", "{tmp}/imgs", "--name", "i"],
        1,
        "cannot decode",
        folder_with(add_file("a/cut.png", payloads.png(payloads.np.ones((8, 8), payloads.np.uint8))[:40])),
    ),
    Case(
        "image-not-an-image",
        ["ingest", "{tmp}/imgs", "--name", "i"],
        1,
        "not an image file",
        folder_with(add_file("a/x.png", b"hello")),
    ),
    Case(
        "image-limit-setting-not-a-number",
        ["ingest", "{tmp}/imgs", "--name", "i"],
        1,
        "[ingest] max_image_pixels = 'many'",
        lambda ws, tmp: (
            payloads.image_folder(tmp / "imgs"),
            _set_config(ws, "max_image_pixels = 40000000", 'max_image_pixels = "many"'),
        ),
    ),
    # --- validate: suites cannot reach outside the data, nor vouch for nothing
    Case(
        "suite-copy-payload",
        ["validate", "digits-pretrain", "--suite", "evil"],
        1,
        "only queries may run",
        lambda ws, tmp: (
            payloads.suite(
                ws.expectations_dir / "evil.json", [payloads.rows_query(COPY_PAYLOAD.replace("{tmp}", str(tmp)))]
            )
            and None
        ),
        marker=MARK,
    ),
    Case(
        "suite-read-text",
        ["validate", "digits-pretrain", "--suite", "evil"],
        1,
        "tried to reach outside the data",
        suite_with(
            "evil",
            [payloads.rows_query("SELECT * FROM {batch} WHERE EXISTS (SELECT * FROM read_text('/etc/hostname'))")],
        ),
    ),
    Case(
        "suite-attach",
        ["validate", "digits-pretrain", "--suite", "evil"],
        1,
        "only queries may run",
        suite_with("evil", [payloads.rows_query("ATTACH '{tmp}/x.duckdb' AS x")]),
    ),
    Case(
        "suite-set-setting",
        ["validate", "digits-pretrain", "--suite", "evil"],
        1,
        "only queries may run",
        suite_with("evil", [payloads.rows_query("SET enable_external_access = true")]),
    ),
    Case(
        "suite-glob-store",
        ["validate", "digits-pretrain", "--suite", "evil"],
        1,
        "tried to reach outside the data",
        suite_with("evil", [payloads.rows_query("SELECT * FROM {batch} WHERE EXISTS (SELECT * FROM glob('/etc/*'))")]),
    ),
    Case(
        "suite-empty",
        ["validate", "digits-pretrain", "--suite", "empty"],
        1,
        "has no expectations",
        suite_with("empty", []),
    ),
    Case(
        "suite-not-utf8",
        ["validate", "digits-pretrain", "--suite", "latin"],
        1,
        "is not UTF-8 text",
        in_ws("expectations/latin.json", b'{"expectations": [], "name": "caf\xe9"}'),
    ),
    Case(
        "suite-deeply-nested",
        ["validate", "digits-pretrain", "--suite", "deep"],
        1,
        "nests deeper than",
        in_ws("expectations/deep.json", '{"expectations": ' + "[" * 5000 + "]" * 5000 + "}"),
    ),
    Case(
        "suite-not-json",
        ["validate", "digits-pretrain", "--suite", "broken"],
        1,
        "is not valid JSON",
        in_ws("expectations/broken.json", "{nope"),
    ),
    Case(
        "suite-link-outside",
        ["validate", "digits-pretrain", "--suite", "linked"],
        1,
        "is a link out of",
        lambda ws, tmp: (
            payloads.suite(
                tmp / "outside.json", [{"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}}]
            ),
            (ws.expectations_dir / "linked.json").symlink_to(tmp / "outside.json"),
        ),
    ),
    Case(
        "suite-name-traversal", ["validate", "digits-pretrain", "--suite", "../../etc/passwd"], 1, "invalid suite name"
    ),
    Case(
        "suite-unknown-type",
        ["validate", "digits-pretrain", "--suite", "odd"],
        1,
        "unknown expectation type",
        suite_with("odd", [{"type": "expect_the_unexpected", "kwargs": {}}]),
    ),
    Case("suite-unknown", ["validate", "digits-pretrain", "--suite", "nope"], 1, "unknown suite"),
    *(
        Case(
            f"suite-{kind}-on-duckdb",
            ["validate", "digits-pretrain", "--suite", "rx"],
            1,
            says,
            suite_with("rx", [{"type": f"expect_column_values_to_match_{kind}", "kwargs": {"column": "path", **kw}}]),
        )
        for kind, kw, says in (
            ("regex", {"regex": "^d"}, "GX has no regular expressions for the DuckDB dialect"),
            ("like_pattern", {"like_pattern": "d%"}, "GX has no LIKE patterns for the DuckDB dialect"),
        )
    ),
    Case("validate-unknown-dataset", ["validate", "ghost", "--suite", "digits-pretrain"], 1, "ghost"),
    Case("validate-bad-digest", ["validate", "digits@xyz", "--suite", "digits-pretrain"], 1, "invalid digest"),
    Case(
        "validate-same-size-edit",
        ["validate", "digits-pretrain", "--suite", "digits-pretrain"],
        3,
        "no longer matches its manifest, refusing to validate",
        flip_store_bit,
    ),
    Case(
        "validate-store-file-is-a-link",
        ["validate", "digits-pretrain", "--suite", "digits-pretrain"],
        3,
        "part-00000.parquet: missing (a symlink)",
        store_file_as_link,
    ),
    Case(
        "pretrain-store-file-is-a-link",
        ["pretrain", SPEC, "train.epochs=1"],
        3,
        "pretrain refused on digits-pretrain",
        store_file_as_link,
    ),
    Case(
        "verify-same-size-edit",
        ["datasets", "verify", "digits-pretrain"],
        3,
        "do not match the manifest",
        flip_store_bit,
    ),
    # --- split: nothing empty, nothing out of range
    Case("split-negative-seed", ["split", "digits", "--into", "a=0.5,b=0.5", "--seed", "-1"], 1, "--seed -1"),
    Case(
        "split-empty-child",
        ["split", "digits", "--into", "a=0.9995,b=0.0005", "--prefix", "x"],
        1,
        "would have no rows",
    ),
    Case("split-over-one", ["split", "digits", "--into", "a=0.8,b=0.8"], 1, "add up to 1.6, more than 1"),
    Case("split-negative-fraction", ["split", "digits", "--into", "a=-0.5"], 1, "with 0 < FRACTION <= 1"),
    Case("split-unknown", ["split", "ghost", "--into", "a=0.5"], 1, "ghost"),
    Case(
        "split-same-size-edit",
        ["split", "digits-pretrain", "--into", "a=0.5,b=0.5", "--prefix", "t"],
        3,
        "refusing to split",
        flip_store_bit,
    ),
    # --- expectations
    Case(
        "suggest-existing-suite",
        ["expectations", "suggest", "digits", "--suite", "digits-pretrain"],
        1,
        "already exists",
    ),
    Case("suggest-bad-suite-name", ["expectations", "suggest", "digits", "--suite", "../x"], 1, "invalid suite name"),
    Case(
        "show-not-utf8-suite",
        ["expectations", "show", "latin"],
        1,
        "is not UTF-8 text",
        in_ws("expectations/latin.json", b'{"expectations": [], "name": "caf\xe9"}'),
    ),
    # --- pretrain: specs checked before any work
    Case(
        "spec-name-traversal",
        ["pretrain", "{tmp}/spec.yaml"],
        1,
        "name: invalid pipeline name",
        spec_override("name: ../../../x"),
    ),
    Case(
        "spec-model-name-invalid",
        ["pretrain", "{tmp}/spec.yaml"],
        1,
        "register.model_name: invalid model name",
        spec("name: p\ndata: {dataset: digits-pretrain, suites: [digits-pretrain]}\nregister: {model_name: 'a b/c'}\n"),
    ),
    Case("spec-not-utf8", ["pretrain", "{tmp}/spec.yaml"], 1, "is not UTF-8 text", spec(b"name: caf\xe9\n")),
    Case(
        "spec-alias-bomb",
        ["pretrain", "{tmp}/spec.yaml"],
        1,
        "aliases (*name) are not allowed",
        spec(payloads.alias_bomb()),
    ),
    Case(
        "spec-huge-hidden",
        ["pretrain", "{tmp}/spec.yaml"],
        1,
        "model.hidden[0]: must be between 1 and 65,536",
        spec(
            "name: p\ndata: {dataset: digits-pretrain, suites: [digits-pretrain]}\n"
            "model: {hidden: [100000000, 100000000]}\n"
        ),
    ),
    Case(
        "spec-python-tag",
        ["pretrain", "{tmp}/spec.yaml"],
        1,
        "is not valid YAML",
        spec("name: !!python/object/apply:os.system ['touch pwned.txt']\n"),
        marker=MARK,
    ),
    Case(
        "spec-unknown-key",
        ["pretrain", "{tmp}/spec.yaml"],
        1,
        "unknown key",
        spec("name: p\ndata: {dataset: digits-pretrain, suites: [digits-pretrain]}\ntrian: {}\n"),
    ),
    Case("spec-missing", ["pretrain", "{tmp}/none.yaml"], 1, "pipeline spec not found"),
    Case("spec-negative-seed", ["pretrain", SPEC, "train.seed=-1"], 1, "train.seed: must be at least 0"),
    Case("spec-zero-lr", ["pretrain", SPEC, "train.lr=0"], 1, "train.lr: must be a positive number"),
    Case(
        "pretrain-unvalidated",
        ["pretrain", SPEC, "data.dataset=digits-finetune", "data.suites=[digits-labelled]"],
        4,
        "gate refused pretrain",
    ),
    Case("pretrain-same-size-edit", ["pretrain", SPEC, "train.epochs=1"], 3, "changed: part-00000", flip_store_bit),
    # a waiver excuses a missing or failed check, never bytes that are not the version's
    Case(
        "pretrain-waived-same-size-edit",
        ["pretrain", SPEC, "train.epochs=1", "--waive", "deadline"],
        3,
        "a waiver never makes changed bytes count",
        flip_store_bit,
    ),
    Case("pretrain-empty-waiver", ["pretrain", SPEC, "--waive", " "], 1, "--waive needs a reason"),
    Case(
        "transfer-spec-missing-encoder",
        ["transfer", "{tmp}/spec.yaml"],
        1,
        "encoder: required",
        spec("name: t\ndata: {train: digits-finetune, eval: digits-eval, suites: [digits-labelled]}\n"),
    ),
    # --- shift
    Case(
        "shift-column-one-side",
        ["shift", "digits-pretrain", "digits-finetune", "--columns", "label", "--encoder", "none"],
        1,
        "label",
    ),
    Case(
        "shift-out-unwritable",
        ["shift", "digits-finetune", "digits-eval", "--encoder", "none", "--out", "/proc/version/x.html"],
        1,
        "cannot write /proc/version/x.html",
    ),
    Case(
        "shift-out-is-folder",
        ["shift", "digits-finetune", "digits-eval", "--encoder", "none", "--out", "{tmp}"],
        1,
        "it is a folder",
    ),
    Case("shift-unknown", ["shift", "ghost", "digits-eval"], 1, "ghost"),
    # --- an encoder named by a check is resolved and verified before anything runs
    Case("dedup-encoder-a-file", ["dedup", "digits", "--encoder", "file:///etc/passwd"], 1, "is not a model URI"),
    Case(
        "contamination-encoder-unknown",
        ["contamination", "digits-pretrain", "digits-eval", "--encoder", "models:/ghost/1"],
        1,
        "no models are registered",
    ),
    # --- models import: files from elsewhere are read as data, bounded, and checked before anything is written
    *(
        Case(
            f"import-{cid}",
            ["models", "import", "{tmp}/" + name, "--name", "imp", *IMPORT_DECLARE, *extra],
            1,
            says,
            setup,
        )
        for cid, name, extra, setup, says in IMPORTS
    ),
    # --- a Spark master is checked for its form before anything starts
    *(
        Case(
            f"spark-master-{cid}",
            ["validate", "digits-pretrain", "--suite", "digits-pretrain", "--engine", "spark", "--master", master],
            1,
            says,
        )
        for cid, master, says in [
            ("local-minus-1", "local[-1]", "is not a Spark master URL"),
            ("local-0", "local[0]", "is not a Spark master URL"),
            ("local-100000", "local[100000]", "is not a Spark master URL"),
            ("local-9999", "local[9999]", "asks for 9,999 threads"),
            ("port-99999", "spark://127.0.0.1:99999", "is not a Spark master URL"),
            ("space-and-conf", "local[2] --conf spark.driver.extraJavaOptions=-Dx", "is not a Spark master URL"),
            ("empty", "", "is not a Spark master URL"),
        ]
    ),
    # --- user-named outputs never replace the workspace's own state, nor anything but a regular file
    *(
        Case(f"out-over-{target.replace('/', '-')}", [*cmd, "--out", f"{{ws}}/{target}"], 1, "workspace's own state")
        for target in (
            "catalog/catalog.duckdb",
            "catalog/mlflow.db",
            "datagov.toml",
            "expectations/digits-pretrain.json",
            "pipelines/x.yaml",
            "catalog/store/x.parquet",
        )
        for cmd in (["datasets", "croissant", "digits"],)
    ),
    Case(
        "out-through-a-link-into-the-catalog",
        ["datasets", "croissant", "digits", "--out", "{tmp}/linked.json"],
        1,
        "it is a link",
        lambda ws, tmp: (tmp / "linked.json").symlink_to(ws.root / "datagov.toml") and None,
    ),
    Case(
        "out-into-a-linked-folder",
        ["models", "card", "x", "--out", "{tmp}/state/catalog.duckdb"],
        1,
        "workspace's own state",
        lambda ws, tmp: (tmp / "state").symlink_to(ws.catalog_dir) and None,
    ),
    Case("out-device-node", ["datasets", "croissant", "digits", "--out", "/dev/null"], 1, "not a regular file"),
    Case(
        "html-over-a-suite",
        ["models", "review", "x", "--html", "{ws}/expectations/digits-pretrain.json"],
        1,
        "workspace's own state",
    ),
    # --- models, lineage, datasets
    Case("review-quote-in-name", ["models", "review", "x'y"], 1, "x'y"),
    Case(
        "review-html-unwritable",
        ["models", "review", "nope", "--html", "/proc/version/r.html"],
        1,
        "cannot write /proc/version/r.html",
    ),
    Case(
        "promote-no-registry",
        ["models", "promote", "nope", "1", "--alias", "prod"],
        1,
        "no models are registered in this workspace yet",
    ),
    Case("review-bad-version", ["models", "review", "nope", "1; drop"], 1, "invalid model version"),
    Case("lineage-unknown", ["lineage", "ghost"], 1, "ghost"),
    Case("runs-unknown-stage", ["runs", "list", "--stage", "bogus"], 1, "unknown stage 'bogus'"),
    Case("demo-without-its-specs", ["demo"], 1, "the demo trains with pipelines/pretrain-digits.yaml"),
    Case("show-bad-hex", ["datasets", "show", "digits@zz"], 1, "invalid digest"),
    Case("show-unknown-digest", ["datasets", "show", "digits@0000"], 1, "0000"),
    # --- workspace settings
    Case(
        "lock-timeout-not-a-number",
        ["datasets", "list"],
        1,
        "DATAGOV_LOCK_TIMEOUT='abc' is not a number",
        env={"DATAGOV_LOCK_TIMEOUT": "abc"},
    ),
    Case("config-not-utf8", ["datasets", "list"], 1, "is not UTF-8 text", in_ws("datagov.toml", b"# caf\xe9\n")),
    Case("config-not-toml", ["datasets", "list"], 1, "is not valid TOML", in_ws("datagov.toml", "[catalog\n")),
    # --- audit scheduling writes one crontab line, never two
    Case(
        "schedule-log-newline",
        ["audit", "schedule", "0 3 * * *", "--print", "--log", "a.log\n* * * * * touch x"],
        1,
        "--log",
    ),
    Case("schedule-bad-cron", ["audit", "schedule", "61 * * * *", "--print"], 1, "cron"),
]


def _set_config(ws: Workspace, old: str, new: str) -> None:
    path = ws.root / "datagov.toml"
    path.write_text(path.read_text().replace(old, new))


def _parquet_folder_with_link(tmp: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp / "pq").mkdir()
    pq.write_table(pa.table({"a": [1, 2]}), tmp / "pq" / "a.parquet")
    pq.write_table(pa.table({"a": [3]}), tmp / "secret.parquet")
    (tmp / "pq" / "b.parquet").symlink_to(tmp / "secret.parquet")


def test_the_corpus_is_large_and_unique():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_fails_closed(case: Case, template: Path, tmp_path: Path, monkeypatch):
    root = tmp_path / "ws"
    shutil.copytree(template, root, symlinks=True)
    ws = Workspace(root)
    outside = tmp_path / "outside"
    outside.mkdir()
    if case.setup:
        case.setup(ws, outside)
    before = snapshot(ws, outside)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    args = [str(a).replace("{tmp}", str(outside)).replace("{ws}", str(root)) for a in case.args]
    cwd = os.getcwd()
    os.chdir(outside)  # a payload writing to a relative path lands where we look
    try:
        result = Cli(ws)(*args)
    finally:
        os.chdir(cwd)
    monkeypatch.delenv("DATAGOV_LOCK_TIMEOUT", raising=False)
    assert result.exit_code == case.code, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert case.says in result.stderr, result.stderr
    if case.marker:
        assert not (outside / case.marker).exists()
    if case.id.startswith("config-"):
        (root / "datagov.toml").write_text("")  # to take the snapshot again
        before["files"].pop("datagov.toml")
    after = snapshot(ws, outside)
    after["files"].pop("datagov.toml", None) if case.id.startswith("config-") else None
    assert after == before


def test_suggest_on_nested_jsonl_skips_the_nested_column(template, tmp_path):
    """Nested values (STRUCT, LIST) once crashed `suggest`; they get no value sets or ranges."""
    import json

    root = tmp_path / "ws"
    shutil.copytree(template, root, symlinks=True)
    ws = Workspace(root)
    result = Cli(ws)("expectations", "suggest", "nested", "--suite", "nested-x")
    assert result.exit_code == 0, result.output
    doc = json.loads((ws.expectations_dir / "nested-x.json").read_text())
    columns = {e["kwargs"].get("column") for e in doc["expectations"]}
    assert "id" in columns
    assert not any(
        e["kwargs"].get("column") == "meta" and ("value_set" in e["kwargs"] or "min_value" in e["kwargs"])
        for e in doc["expectations"]
    )

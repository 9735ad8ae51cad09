"""Validation of the same version kept in the local store and in a bucket
(a moto S3 server on 127.0.0.1): `datagov validate` in each of two
workspaces that ingested the same 10M-row Parquet with the same suite,
alternated, same run. No target: the ratio is what a bucket costs (a
verified download into catalog/tmp/ before GX reads it).

  python -m bench.validate_s3 [ROWS] [ROUNDS]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATAGOV, OUT, alternate, machine, run
from bench.in_place import start_server
from bench.validate import make_data, suite

BUCKET = "bench-validate"


def workspace(name: str, data: Path, store: str | None) -> Path:
    ws = OUT / name
    shutil.rmtree(ws, ignore_errors=True)
    run([*DATAGOV, "init", str(ws)])
    if store:
        config = ws / "datagov.toml"
        config.write_text(config.read_text().replace('url = ""', f'url = "{store}"'))
    run([*DATAGOV, "--workspace", str(ws), "ingest", str(data), "--name", "bench", "--no-progress"])
    (ws / "expectations" / "bench.json").write_text(json.dumps(suite(), indent=2))
    return ws


def validate(ws: Path) -> float:
    return run([*DATAGOV, "--workspace", str(ws), "validate", "bench", "--suite", "bench"])


def main(rows: int = 10_000_000, rounds: int = 3) -> None:
    from pyarrow import fs as pafs

    OUT.mkdir(parents=True, exist_ok=True)
    data = make_data(rows)
    proc, endpoint = start_server()
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
        | {"AWS_ENDPOINT_URL": endpoint}
    )
    try:
        admin = pafs.S3FileSystem(endpoint_override=endpoint.split("//")[1], scheme="http", allow_bucket_creation=True)
        admin.create_dir(BUCKET)
        local = workspace("ws-validate-local", data, None)
        bucket = workspace("ws-validate-s3", data, f"s3://{BUCKET}/store")
        base, cand = alternate(lambda: validate(local), lambda: validate(bucket), rounds)
    finally:
        proc.terminate()
        proc.wait()
    size = data.stat().st_size
    print(f"Validation of one version in two stores: {rows:,} rows, {size / 1e6:,.0f} MB of Parquet ({machine()})")
    print(f"  {'datagov validate, local store':<44} {base:8.3f} s")
    print(f"  {'datagov validate, S3 store (moto, loopback)':<44} {cand:8.3f} s")
    print(f"  ratio {cand / base:6.2f}   (no target: what a bucket costs)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))

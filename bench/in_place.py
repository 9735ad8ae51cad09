"""In-place registration benchmark: `datagov ingest s3://... --in-place` of
N shards on a local S3-compatible server (moto) against reading every byte of
the same objects with pyarrow's S3 filesystem (same threads), in turns, same
run. Target: ratio <= 1.3. The issue's case is a WebDataset of 200 tar
shards of 1,000 32x32 PNGs each; `parquet` runs the same with Parquet shards.

  python -m bench.in_place [webdataset|parquet] [SHARDS] [ROWS_PER_SHARD]
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATAGOV, OUT, alternate, machine, report, run

BUCKET = "bench-in-place"


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", "from moto.server import main; main()", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start")


def write_tar_shards(fs, shards: int, rows: int) -> int:
    from bench.wds_shards import write_shards

    def put(name: str, data: bytes) -> None:
        with fs.open_output_stream(f"{BUCKET}/shards/{name}") as out:
            out.write(data)

    fs.create_dir(BUCKET)
    return write_shards(put, shards, rows)


def write_shards(fs, shards: int, rows: int) -> int:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs.create_dir(BUCKET)
    rng = np.random.default_rng(0)
    total = 0
    for i in range(shards):
        blobs = [rng.integers(0, 256, 3072, dtype=np.uint8).tobytes() for _ in range(rows)]  # a 32x32 RGB image each
        table = pa.table({"image": blobs, "label": rng.integers(0, 10, rows)})
        with fs.open_output_stream(f"{BUCKET}/shards/part-{i:05d}.parquet") as out:
            pq.write_table(table, out, compression="none")
        total += table.nbytes
    return total


def read_every_byte(fs, keys: list[str]) -> float:
    def read(key: str) -> int:
        n = 0
        with fs.open_input_stream(key) as fh:
            while block := fh.read(8 << 20):
                n += len(block)
        return n

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        sum(pool.map(read, keys))
    return time.perf_counter() - start


def register(ws: Path, prefix: str = "shards") -> float:
    shutil.rmtree(ws, ignore_errors=True)
    run([*DATAGOV, "init", str(ws)])
    return run([*DATAGOV, "--workspace", str(ws), "ingest", f"s3://{BUCKET}/{prefix}", "--name", "b", "--in-place"])


def copy_one(fs, key: str, prefix: str) -> None:
    """One shard under its own prefix: what registering costs before any byte."""
    with fs.open_input_stream(key) as src, fs.open_output_stream(f"{BUCKET}/{prefix}/{key.rsplit('/', 1)[1]}") as out:
        out.write(src.read())


def main(layout: str = "webdataset", shards: int = 200, rows: int = 1000) -> None:
    from pyarrow import fs as pafs

    proc, endpoint = start_server()
    env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
    os.environ.update({**env, "AWS_ENDPOINT_URL": endpoint})
    try:
        admin = pafs.S3FileSystem(endpoint_override=endpoint.split("//")[1], scheme="http", allow_bucket_creation=True)
        if layout == "webdataset":
            size = write_tar_shards(admin, shards, rows)
            keys = [f"{BUCKET}/shards/shard-{i:05d}.tar" for i in range(shards)]
        else:
            size = write_shards(admin, shards, rows)
            keys = [f"{BUCKET}/shards/part-{i:05d}.parquet" for i in range(shards)]
        base, cand = alternate(lambda: read_every_byte(admin, keys), lambda: register(OUT / "in-place-ws"), 3)
        copy_one(admin, keys[0], "one")
        fixed = min(register(OUT / "in-place-ws", "one") for _ in range(3))
    finally:
        proc.terminate()
        proc.wait()
    what = "images" if layout == "webdataset" else "rows"
    print(f"# {machine()}; {shards} shards, {shards * rows:,} {what}, {size / 1e6:,.0f} MB on a local moto server")
    report(
        f"in-place registration of {layout} shards on S3",
        "read every byte (pyarrow S3, 8 threads)",
        base,
        "datagov ingest s3://... --in-place",
        cand,
        "<= 1.3",
        cand / base <= 1.3,
    )
    print(f"  (fixed cost: the same command on a prefix of one shard takes {fixed:.3f} s)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "webdataset", *(int(a) for a in sys.argv[2:4]))

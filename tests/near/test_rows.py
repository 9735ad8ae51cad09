"""`image_rows_of` reads fingerprints straight from Arrow's buffers: the same
values as Arrow's own conversion, for sliced and chunked columns, and a
missing or malformed value is refused, never read as something else."""

import numpy as np
import pyarrow as pa
import pytest

from datagov.errors import IntegrityError
from datagov.near.rows import image_rows_of


def prints(rows: int) -> pa.Table:
    rng = np.random.default_rng(rows)
    hashes = rng.integers(0, 2**63, (2, rows), dtype=np.uint64)
    thumbs = rng.integers(0, 256, (rows, 16, 16), dtype=np.uint8)
    return pa.table({
        "phash": [h.tobytes() for h in hashes[0].astype(">u8")],
        "dhash": [h.tobytes() for h in hashes[1].astype(">u8")],
        "thumb": [t.tobytes() for t in thumbs],
        "height": pa.array(np.arange(rows) + 20, pa.int32()),
        "width": pa.array(np.arange(rows) % 200 + 5, pa.uint8()),
    })  # fmt: skip


def test_chunked_and_sliced_columns_read_as_arrow_reads_them():
    whole = pa.concat_tables([prints(300), prints(77)])  # two chunks per column
    table = whole.slice(10, 350)  # offsets into the first and last chunk
    rows = image_rows_of(table)
    assert len(rows) == 350
    assert rows.height.dtype == rows.width.dtype == np.int64
    assert rows.height.tolist() == table.column("height").to_pylist()
    assert rows.width.tolist() == table.column("width").to_pylist()
    assert [int(h) for h in rows.phash] == [int.from_bytes(b, "big") for b in table.column("phash").to_pylist()]
    assert rows.thumbs[-1].tobytes() == table.column("thumb")[-1].as_py()


def test_a_missing_height_is_refused():
    table = prints(5)
    table = table.set_column(3, "height", pa.array([20, None, 22, 23, 24], pa.int64()))
    with pytest.raises(IntegrityError, match="height or width is missing"):
        image_rows_of(table)


def test_a_height_that_is_no_integer_is_refused():
    table = prints(5)
    table = table.set_column(3, "height", pa.array([20.0, 21.5, 22, 23, 24], pa.float64()))
    with pytest.raises(IntegrityError, match="not an integer"):
        image_rows_of(table)

import json

import numpy as np
import pytest


def write_table_csv(path, n=400, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    lines = ["id,x,y,label,kind"]
    for i in range(n):
        lines.append(f"id{i:05d},{rng.normal(shift, 1):.6f},{rng.uniform(0, 10):.6f},{i % 4},{'ab'[i % 2]}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def table(cli, tmp_path):
    """A cataloged tabular dataset `t` (400 rows)."""
    src = write_table_csv(tmp_path / "t.csv")
    assert cli("ingest", src, "--name", "t", "--label", "label").exit_code == 0
    return cli


def write_suite(ws, name, expectations, **extra):
    path = ws.expectations_dir / f"{name}.json"
    path.write_text(json.dumps({"name": name, "expectations": expectations, **extra}, indent=2))
    return path


def exp(expectation_type, /, **kwargs):
    return {"type": expectation_type, "kwargs": kwargs}

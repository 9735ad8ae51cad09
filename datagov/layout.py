"""Creating a workspace: its folders, settings file and migrated catalog.

Apart from `workspace.py` (which only finds and reads a workspace) so that
the catalog can depend on the workspace without the workspace depending on
the catalog.
"""

from __future__ import annotations

import os
from pathlib import Path

from datagov.catalog.db import open_catalog
from datagov.errors import InvalidInput
from datagov.workspace import CATALOG_README, CONFIG_NAME, DEFAULT_CONFIG, GITIGNORE, Workspace, load_workspace

# Examples for the two folders a user fills (a suite is GX's JSON, which holds no comments).
PIPELINES_README = """# Pipeline specs

One YAML file per training pipeline; its first line says how to run it.
Every key is listed in datagov's docs/pipeline-spec.md. For example,
`pipelines/pretrain-photos.yaml`:

```yaml
# datagov pretrain pipelines/pretrain-photos.yaml
name: photos-autoencoder
data:
  dataset: photos-pretrain          # NAME or NAME@DIGEST
  suites: [photos-pretrain]         # the gate requires a current passing receipt of each
model:
  kind: auto                        # or resnet18, resnet34, mobilenet_v3_small
  latent: 32
train:
  epochs: 20
  device: auto                      # CUDA when present
```

and `pipelines/transfer-photos.yaml`:

```yaml
# datagov transfer pipelines/transfer-photos.yaml
name: photos-classifier
encoder: models:/photos-autoencoder@latest-validated
strategy: finetune                  # or features (frozen encoder, linear head)
data:
  train: photos-finetune
  eval: photos-eval
  suites: [photos-labelled]
  contamination: [train, encoder]   # eval must hold no near-copy of either
```
"""

EXPECTATIONS_README = """# Great Expectations suites

One suite per file, `SUITE.json`, in Great Expectations' own format. Start
from the data: `datagov expectations suggest NAME --suite SUITE` writes one
from a version's profile; edit it, then `datagov validate NAME --suite SUITE`.
A minimal suite:

```json
{
  "name": "photos-pretrain",
  "expectations": [
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1000}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "image"}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "channels", "value_set": [3]}}
  ]
}
```

The gate never counts a suite that checks only table-level counts, and
`[gate.require]` in datagov.toml can name the suites or expectation types a
dataset must pass.
"""


def init_workspace(root: str | os.PathLike) -> tuple[Workspace, bool]:
    """Create the layout under `root` (idempotent); returns (workspace, created)."""
    path = Path(root).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise InvalidInput(f"cannot create a workspace at {path}: it is a file")
    created = not (path / CONFIG_NAME).exists()
    for sub in ("catalog", "catalog/store", "catalog/reports", "expectations", "pipelines"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    if created:
        (path / CONFIG_NAME).write_text(DEFAULT_CONFIG)
    for rel, text in (
        ("catalog/README.md", CATALOG_README),
        ("catalog/.gitignore", GITIGNORE),
        ("pipelines/README.md", PIPELINES_README),
        ("expectations/README.md", EXPECTATIONS_README),
        ("catalog/.leases", ""),  # read leases are locks on its bytes (store/leases.py): it stays empty
    ):
        target = path / rel
        if not target.exists():
            target.write_text(text)
    ws = load_workspace(path)
    with open_catalog(ws, write=True):
        pass  # applies migrations so a fresh workspace has its tables
    return ws, created

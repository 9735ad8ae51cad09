"""Data has a lifecycle: retiring what is no longer wanted, deleting what
nothing depends on, collecting garbage by a retention policy, and erasing
items on request with their impact on every model.

- `retire.py`: versions, datasets, receipts, suites and model versions, each with who and why;
- `dependents.py`: what depends on a version (models, protected aliases, child versions);
- `removal.py`: deleting versions and, after COMMIT, the store bytes nothing references;
- `gc.py`: `[retention]` and `datagov gc`;
- `erase.py`, `erase_select.py`, `purge.py`: `datagov erase`, how items are found, and the proof;
- `flags.py`: flagging the models whose training content changed (erasure, license).
"""

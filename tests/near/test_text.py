"""Planted near-duplicate sentences (a few words changed) between two
tables of real English text: the default MinHash method finds them."""

import importlib
import json
import re
import warnings

import numpy as np
import pytest

from datagov.near.check import run_check
from datagov.near.text import shingles

MODULES = (
    "argparse", "collections", "json", "logging", "os", "pathlib", "subprocess", "threading", "unittest",
    "asyncio", "inspect", "typing", "datetime", "decimal", "statistics", "random", "re", "socket", "sqlite3",
    "csv", "configparser", "shutil", "tempfile", "textwrap", "functools", "itertools", "heapq", "queue",
    "codecs", "calendar", "difflib", "pickle", "enum", "dataclasses", "contextlib", "hashlib", "base64",
    "struct", "io", "tokenize", "ast", "traceback", "warnings", "doctest", "zipfile", "tarfile", "email.message",
)  # fmt: skip


def sentences() -> list[str]:
    """Sentences of 10-40 words from the standard library's docstrings, with
    look-alikes removed by an exact pairwise Jaccard pass (an oracle
    independent of the MinHash under test), so the 'distinct' rows are."""
    found = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in MODULES:
            module = importlib.import_module(name)
            for obj in [module] + [getattr(module, n, None) for n in dir(module) if not n.startswith("_")]:
                doc = getattr(obj, "__doc__", None)
                if isinstance(doc, str):
                    for s in re.split(r"(?<=[.!?])\s+", " ".join(doc.split())):
                        if 10 <= len(s.split()) <= 40 and not re.search(r"[{}<>=()\[\]]", s):
                            found.add(s)
    kept, sets = [], []
    for s in sorted(found):
        words = shingles(s, 1)
        if all(len(words & t) / len(words | t) < 0.3 for t in sets):
            kept.append(s)
            sets.append(words)
    return kept


@pytest.fixture(scope="module")
def corpus():
    pool = sentences()
    rng = np.random.default_rng(0)
    rng.shuffle(pool)
    reference, distinct = pool[:800], pool[800:1000]
    vocab = sorted({w for s in pool for w in re.findall(r"[a-z]+", s.lower())})
    planted = []
    for i in range(150):
        words = reference[i].split()
        for pos in rng.choice(len(words), int(rng.integers(1, 4)), replace=False):
            words[pos] = str(rng.choice(vocab))
        planted.append(" ".join(words))
    return reference, planted, distinct


def write_jsonl(path, texts, kind):
    path.write_text("".join(json.dumps({"text": t, "kind": kind[i]}) + "\n" for i, t in enumerate(texts)))


def test_planted_sentences_are_found_with_recall_and_precision_of_095(corpus, cli, ws, tmp_path):
    reference, planted, distinct = corpus
    assert len(distinct) == 200
    write_jsonl(tmp_path / "ref.jsonl", reference, ["ref"] * len(reference))
    write_jsonl(tmp_path / "eval.jsonl", planted + distinct, ["planted"] * 150 + ["distinct"] * 200)
    assert cli("ingest", tmp_path / "ref.jsonl", "--name", "corpus").exit_code == 0
    assert cli("ingest", tmp_path / "eval.jsonl", "--name", "heldout").exit_code == 0
    report, _, _, pairing = run_check(ws, "corpus", "heldout")
    assert report.text_columns == ["text"]  # `kind` is one word: not text
    truth = dict(enumerate(range(150)))  # planted row j is a copy of reference row j
    flagged = set(pairing.target.tolist())
    correct = {b for a, b in zip(pairing.ref.tolist(), pairing.target.tolist(), strict=True) if truth.get(b) == a}
    recall, precision = len(correct) / 150, len(correct) / len(flagged)
    print(f"text planted test: recall {recall:.3f}, precision {precision:.3f}, flagged {len(flagged)}")
    assert recall >= 0.95 and precision >= 0.95

    result = cli("contamination", "corpus", "heldout", "--json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["flagged"] == len(flagged) and doc["settings"]["method"] == "text"
    assert doc["pairs"][0]["score"] >= 0.5 and doc["text_columns"] == ["text"]


def test_exact_rows_count_for_tables_and_a_bag_of_words_for_text(cli, ws, tmp_path):
    rows = ["the cat sat on the warm mat by the door", "a completely different sentence about databases and disks"]
    write_jsonl(tmp_path / "t.jsonl", rows + rows[:1] + ["the cat sat on the cold mat by the door"], ["x"] * 4)
    assert cli("ingest", tmp_path / "t.jsonl", "--name", "t").exit_code == 0
    result = cli("dedup", "t", "--json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert (doc["flagged"], doc["exact"]) == (2, 1)  # row 2 is row 0; row 3 differs by one word
    pairs = {(p["reference_row"], p["target_row"]): p for p in doc["pairs"]}
    assert pairs[(0, 2)]["exact"] and not pairs[(0, 3)]["exact"] and pairs[(0, 3)]["score"] == pytest.approx(7 / 9)

"""Near-duplicate text: MinHash LSH over word shingles (datasketch), each
candidate confirmed by the exact Jaccard similarity of its shingle sets.

LSH finds pairs above the threshold with high probability, never all pairs:
it is banded for a lower threshold than asked, weighted against misses, and
the exact Jaccard check removes the false candidates that lets in (the
planted test in tests/near/test_text.py measures both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from datagov.errors import InvalidInput, MissingDependency

_WORD = re.compile(r"\w+")
MIN_WORDS = 4  # a string column is text when its values average this many words


@dataclass(frozen=True)
class TextMethod:
    columns: tuple[str, ...] = ()  # none named: the text columns found in the data
    shingle: int = 1  # words per shingle: 1 compares sentences as bags of words
    jaccard: float = 0.5
    num_perm: int = 128

    def check(self) -> TextMethod:
        if not 0.0 < self.jaccard <= 1.0:
            raise InvalidInput(f"--jaccard {self.jaccard} is out of range: use a number above 0 and at most 1")
        if not 1 <= self.shingle <= 16:
            raise InvalidInput(f"--shingle {self.shingle} is out of range: use 1 to 16 words")
        return self

    def settings(self) -> dict:
        """What a receipt is bound to (with the decision threshold)."""
        return {
            "method": "text",
            "columns": list(self.columns) or ["(auto)"],  # as asked: the columns found may differ per version
            "shingle": self.shingle,
            "jaccard": self.jaccard,
            "num_perm": self.num_perm,
        }


def shingles(text: str | None, k: int) -> set[bytes]:
    words = _WORD.findall((text or "").lower())
    if len(words) <= k:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}


def text_columns(columns: dict[str, list], types: dict[str, str]) -> list[str]:
    """String columns whose values average at least MIN_WORDS words."""
    out = []
    for name, values in columns.items():
        if not types.get(name, "").upper().startswith("VARCHAR"):
            continue
        present = [v for v in values if v]
        if present and sum(len(_WORD.findall(v)) for v in present) / len(present) >= MIN_WORDS:
            out.append(name)
    return out


def row_texts(columns: dict[str, list], names: list[str]) -> list[str]:
    if not names:
        return []
    return [" \n".join(v for v in values if v) for values in zip(*(columns[n] for n in names), strict=True)]


def _minhashes(sets: list[set[bytes]], num_perm: int):
    try:
        from datasketch import LeanMinHash, MinHash
    except ImportError:  # pragma: no cover - a declared dependency
        raise MissingDependency("datasketch", "near-duplicate text") from None
    return [LeanMinHash(m) for m in MinHash.bulk([list(s) for s in sets], num_perm=num_perm, seed=1)]


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def match_text(ref: list[str], target: list[str], method: TextMethod, *, same: bool) -> tuple[np.ndarray, ...]:
    """(reference rows, target rows, Jaccard) of every confirmed pair; with
    `same`, pairs (earlier, later) inside one list."""
    from datasketch import MinHashLSH

    k = method.shingle
    ref_sets = [shingles(t, k) for t in ref]
    target_sets = ref_sets if same else [shingles(t, k) for t in target]
    ref_hashes = _minhashes(ref_sets, method.num_perm)
    target_hashes = ref_hashes if same else _minhashes(target_sets, method.num_perm)
    # LSH misses pairs near its threshold (a banding is an S-curve): band for
    # a lower threshold, weighted against misses, and let the exact Jaccard
    # check below remove the extra candidates.
    lsh = MinHashLSH(threshold=max(0.05, 0.8 * method.jaccard), num_perm=method.num_perm, weights=(0.2, 0.8))
    with lsh.insertion_session() as session:
        for i, (s, m) in enumerate(zip(ref_sets, ref_hashes, strict=True)):
            if s:  # an empty text is nobody's near-duplicate
                session.insert(i, m)
    found_ref, found_target, scores = [], [], []
    for j, (s, m) in enumerate(zip(target_sets, target_hashes, strict=True)):
        if not s:
            continue
        for i in lsh.query(m):
            if same and i >= j:
                continue
            score = _jaccard(ref_sets[i], s)
            if score >= method.jaccard:
                found_ref.append(i)
                found_target.append(j)
                scores.append(score)
    return np.array(found_ref, np.int64), np.array(found_target, np.int64), np.array(scores, np.float64)

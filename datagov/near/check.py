"""`datagov dedup` and `datagov contamination`: find near-duplicates, count
them per class, keep the worst pairs, and write a receipt the gate reads.

A receipt of kind `contamination` is bound to the target's digest, the
reference's digest (the same one for dedup) and the digest of the method's
settings and decision threshold, so a receipt made with a looser radius or
similarity never stands in for the defaults a pipeline requires.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

import numpy as np

from datagov.catalog.db import open_catalog
from datagov.catalog.locations import locate
from datagov.catalog.versions import Version, dataset_of, now, resolve
from datagov.errors import InvalidInput
from datagov.near.embed import EncoderLoader
from datagov.near.images import MAX_PAIRS_PER_ROW, ImageMethod, Matches, match_images, match_within
from datagov.near.rows import VersionRows, is_image_version, read_rows
from datagov.near.text import TextMethod, match_text, row_texts, text_columns
from datagov.workspace import Workspace

KIND = "contamination"  # the receipt kind
REPORT_PAIRS = 48  # pairs kept in the receipt and shown side by side


def settings_digest(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def default_settings(modality: str, max_share: float = 0.0) -> dict:
    """What a check run with every default is bound to (the gate asks for this)."""
    method = ImageMethod().settings() if modality == "image" else TextMethod().settings()
    return {**method, "max_share": max_share}


@dataclass
class NearReport:
    id: str
    kind: str  # dedup | contamination
    reference: Version
    target: Version
    settings: dict
    target_rows: int
    flagged: int  # contamination: target rows with a near-copy; dedup: rows a dedupe would remove
    exact: int  # of those, byte-identical (same pixels / same row)
    pairs_found: int
    text_columns: list[str] = field(default_factory=list)  # tables: the columns compared as text
    per_class: list[dict] = field(default_factory=list)  # {label, rows, flagged}
    pairs: list[dict] = field(default_factory=list)  # the most alike first
    started: datetime | None = None
    duration: float = 0.0
    receipt_id: str | None = None
    report_path: str | None = None
    data_path: str | None = None

    @property
    def share(self) -> float:
        return self.flagged / self.target_rows if self.target_rows else 0.0

    @property
    def max_share(self) -> float:
        return float(self.settings["max_share"])

    @property
    def passed(self) -> bool:
        return self.share <= self.max_share

    def to_json(self) -> dict:
        doc = {k: v for k, v in asdict(self).items() if k not in ("reference", "target")}
        doc |= {
            "reference": {"ref": self.reference.ref, "digest": self.reference.digest},
            "target": {"ref": self.target.ref, "digest": self.target.digest},
            "share": self.share,
            "passed": self.passed,
            "started": f"{self.started:%Y-%m-%d %H:%M:%S}",
        }
        return doc


@dataclass
class Pairing:
    """Row pairs found, in either modality: reference rows, target rows, scores."""

    ref: np.ndarray
    target: np.ndarray
    score: np.ndarray  # image: thumbnail correlation; text: Jaccard
    distance: np.ndarray | None = None  # image: Hamming bits
    cosine: np.ndarray | None = None  # image with --encoder
    exact: np.ndarray | None = None  # bool: byte-identical


def _check_share(max_share: float) -> float:
    if not 0.0 <= max_share <= 1.0:
        raise InvalidInput(f"--max-share {max_share} is out of range: use 0 to 1 (a share of the target's rows)")
    return max_share


def _load(ws: Workspace, ref: str, text: TextMethod | None) -> tuple[Version, VersionRows, list[str]]:
    with open_catalog(ws) as con:
        version = resolve(con, ref)
        meta = dataset_of(con, version)
        files = locate(ws, con, version.digest, version.dataset)
    types = {c["name"]: str(c.get("type", "")) for c in version.schema}
    if is_image_version(version):
        rows = read_rows(ws, version, files, modality=meta.modality, label_column=meta.label_column, text_columns=[])
        return version, rows, []
    method = text or TextMethod()
    if missing := [c for c in method.columns if c not in version.columns]:
        raise InvalidInput(f"{version.ref} has no column {missing[0]!r}", hint=f"columns: {', '.join(version.columns)}")
    if bad := [c for c in method.columns if not types[c].upper().startswith("VARCHAR")]:
        raise InvalidInput(f"column {bad[0]!r} of {version.ref} is {types[bad[0]]}, not text")
    rows = read_rows(
        ws, version, files, modality=meta.modality, label_column=meta.label_column, text_columns=list(version.columns)
    )
    columns = list(method.columns) or text_columns(rows.columns, types)
    return version, rows, columns


def _image_pairing(ref: VersionRows, target: VersionRows, matches: Matches) -> Pairing:
    """Pairs with `exact` set where the decoded pixels are identical (same `pixel_hash`)."""
    exact = np.zeros(len(matches), bool)
    if ref.keys is not None and target.keys is not None:
        exact = ref.keys[matches.ref] == target.keys[matches.target]
    return Pairing(matches.ref, matches.target, matches.similarity, matches.distance, matches.cosine, exact)


def _confirm_with_encoder(encoder, ref: VersionRows, target: VersionRows, m: Matches, method) -> Matches:
    from datagov.near.embed import encoder_cosines

    if encoder is None or not len(m):
        return m
    model, shape = encoder
    m.cosine = encoder_cosines(model, shape, ref, target, m.ref, m.target)
    return m.take(m.cosine >= method.min_cosine)


def _row_keys(rows: VersionRows) -> np.ndarray:
    """A 128-bit key per row (as two uint64 columns) from every column's value."""
    columns = [rows.columns[c] for c in rows.version.columns if c in rows.columns]
    keys = [hashlib.md5(repr(values).encode(), usedforsecurity=False).digest() for values in zip(*columns, strict=True)]
    return np.frombuffer(b"".join(keys), np.uint64).reshape(-1, 2) if keys else np.zeros((0, 2), np.uint64)


def _exact_text_pairs(ref: VersionRows, target: VersionRows, same: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rows identical in every column: (reference rows, target rows); with
    `same`, each row paired with the first row like it."""
    ref_keys = _row_keys(ref)
    target_keys = ref_keys if same else _row_keys(target)
    first: dict[bytes, int] = {}
    for i, key in enumerate(map(bytes, ref_keys)):
        first.setdefault(key, i)
    pairs = [(first[k], j) for j, k in enumerate(map(bytes, target_keys)) if k in first and (not same or first[k] < j)]
    if not pairs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a, b = zip(*pairs, strict=True)
    return np.array(a, np.int64), np.array(b, np.int64)


def _text_pairing(ref: VersionRows, target: VersionRows, columns: list[str], method: TextMethod, same: bool):
    exact_ref, exact_target = _exact_text_pairs(ref, target, same)
    if columns:
        near_ref, near_target, scores = match_text(
            row_texts(ref.columns, columns), row_texts(target.columns, columns), method, same=same
        )
    else:
        near_ref = near_target = np.zeros(0, np.int64)
        scores = np.zeros(0)
    exact_keys = set(zip(exact_ref.tolist(), exact_target.tolist(), strict=True))
    near_new = np.array([(a, b) not in exact_keys for a, b in zip(near_ref, near_target, strict=True)], bool)
    return Pairing(
        np.concatenate([exact_ref, near_ref[near_new]]),
        np.concatenate([exact_target, near_target[near_new]]),
        np.concatenate([np.ones(len(exact_ref)), scores[near_new]]),
        exact=np.concatenate([np.ones(len(exact_ref), bool), np.zeros(int(near_new.sum()), bool)]),
    )


def first_of_groups(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each of n rows, the first row of its group, groups being the rows
    joined by the pairs (a[i], b[i]) (connected components)."""
    rows = np.arange(n)
    if not len(a):
        return rows
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    _, component = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
    first = np.full(component.max() + 1, n)
    np.minimum.at(first, component, rows)
    return first[component]


def removable_rows(n: int, pairs: Pairing) -> np.ndarray:
    """Rows that a dedupe removes: all but the first row of each group of
    rows joined by pairs."""
    return np.flatnonzero(first_of_groups(n, pairs.ref, pairs.target) != np.arange(n))


def _per_class(target: VersionRows, flagged: np.ndarray) -> list[dict]:
    if target.labels is None:
        return []
    mask = np.zeros(target.rows, bool)
    mask[flagged] = True
    out = []
    for label in sorted(set(target.labels.tolist()), key=lambda v: (v is None, str(v))):
        rows = target.labels == label
        out.append({"label": label, "rows": int(rows.sum()), "flagged": int((rows & mask).sum())})
    return out


def _worst_pairs(ref: VersionRows, target: VersionRows, p: Pairing, limit: int) -> list[dict]:
    order = np.lexsort((p.target, -p.score))[:limit]
    out = []
    for i in order.tolist():
        a, b = int(p.ref[i]), int(p.target[i])
        row = {
            "reference_row": a,
            "target_row": b,
            "reference_name": ref.name(a),
            "target_name": target.name(b),
            "score": round(float(p.score[i]), 6),
            "exact": bool(p.exact[i]) if p.exact is not None else False,
        }
        if p.distance is not None:
            row["hamming"] = int(p.distance[i])
        if p.cosine is not None:
            row["cosine"] = round(float(p.cosine[i]), 6)
        if ref.label_values is not None:
            row["reference_label"] = ref.label(a)
        if target.label_values is not None:
            row["target_label"] = target.label(b)
        out.append(row)
    return out


def run_check(
    ws: Workspace,
    reference: str,
    target: str | None,
    *,
    image: ImageMethod | None = None,
    text: TextMethod | None = None,
    max_share: float = 0.0,
    encoders: EncoderLoader | None = None,
    every_pair: bool = False,
) -> tuple[NearReport, VersionRows, VersionRows, Pairing]:
    """Dedup (`target` None: pairs inside `reference`) or contamination
    (target rows with a near-copy in the reference). `encoders` loads the
    encoder `image.encoder` names (`training.encoders.encoder_for_images`).
    `every_pair` keeps every pair of a dedup, not only each row's best
    MAX_PAIRS_PER_ROW: what grouping rows needs (`split --dedupe near`), where
    a dropped pair can leave two near-copies in different groups."""
    t0, started = time.perf_counter(), now()
    _check_share(max_share)
    image = (image or ImageMethod()).check()
    text = (text or TextMethod()).check()
    ref_version, ref_rows, ref_cols = _load(ws, reference, text)
    same = target is None
    if target is None:
        target_version, target_rows, target_cols = ref_version, ref_rows, ref_cols
    else:
        target_version, target_rows, target_cols = _load(ws, target, text)
    images = ref_rows.images is not None
    if images != (target_rows.images is not None):
        raise InvalidInput(
            f"{ref_version.ref} and {target_version.ref} are not both images or both tables: nothing to compare"
        )
    if images and text.columns:
        raise InvalidInput(f"--column names text columns of tables; {ref_version.ref} is an image version")
    if not images and image.encoder:
        raise InvalidInput(f"--encoder embeds images; {ref_version.ref} has no image column", hint="drop --encoder")
    if images:
        encoder = None
        if image.encoder:  # resolved and its weights verified before any work, pairs or not
            if encoders is None:
                raise RuntimeError("run_check was asked for an encoder without a way to load one")
            loaded = encoders(image.encoder, [ref_version, target_version])
            image, encoder = replace(image, encoder=loaded.pinned_uri), (loaded.model, loaded.shape)
        assert ref_rows.images is not None and target_rows.images is not None  # both image versions (checked above)
        found = (
            match_within(ref_rows.images, image, None if every_pair else MAX_PAIRS_PER_ROW)
            if same
            else match_images(ref_rows.images, target_rows.images, image)
        )
        pairing = _image_pairing(
            ref_rows, target_rows, _confirm_with_encoder(encoder, ref_rows, target_rows, found, image)
        )
        settings = image.settings()
    else:
        if ref_cols != target_cols and not same:
            raise InvalidInput(
                f"the text columns differ: {ref_cols or 'none'} in {ref_version.ref}, "
                f"{target_cols or 'none'} in {target_version.ref}",
                hint="name them with --column",
            )
        pairing = _text_pairing(ref_rows, target_rows, target_cols, text, same)
        settings = text.settings()
    settings["max_share"] = max_share
    flagged = removable_rows(target_rows.rows, pairing) if same else np.unique(pairing.target)
    exact_flagged = np.unique(pairing.target[pairing.exact]) if pairing.exact is not None else np.zeros(0, np.int64)
    report = NearReport(
        id=f"n-{secrets.token_hex(6)}",
        kind="dedup" if same else "contamination",
        reference=ref_version,
        target=target_version,
        settings=settings,
        target_rows=target_rows.rows,
        flagged=len(flagged),
        exact=int(np.isin(flagged, exact_flagged).sum()),
        pairs_found=len(pairing.ref),
        text_columns=target_cols,
        per_class=_per_class(target_rows, flagged),
        pairs=_worst_pairs(ref_rows, target_rows, pairing, REPORT_PAIRS),
        started=started,
        duration=time.perf_counter() - t0,
    )
    return report, ref_rows, target_rows, pairing

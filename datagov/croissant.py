"""A version as Croissant 1.1 JSON-LD (https://mlcommons.org/croissant/1.1):
a FileObject per stored file with its sha256, record sets that read exactly
those files (`croissant_records`), license as SPDX URLs, creator from the
owner, and what datagov knows for a fact from its own records:

- Responsible AI (RAI 1.0): how the data was collected and derived, what was
  rejected or removed, and as `rai:dataLimitations` only what a check found
  (a failed suite, flagged near-duplicates);
- provenance (PROV-O, as Croissant 1.1 uses it): `prov:wasDerivedFrom` the
  parent versions or sources, `prov:wasGeneratedBy` the datagov step;
- every check's newest receipt as a W3C DQV quality annotation.

Fields it has no facts for are left out, not guessed. Files are named where
they are stored (a local path or an s3:// URL).
"""

from __future__ import annotations

import os
import re
from collections import Counter

from datagov.catalog.db import open_catalog
from datagov.catalog.locations import locate
from datagov.catalog.receipts import Receipt, list_receipts
from datagov.catalog.versions import SHORT, Version, dataset_row, find_version, rejects_of, resolve, version_history
from datagov.croissant_records import parquet_record_sets, webdataset_record_sets
from datagov.licenses import classify
from datagov.lineage import short_version, upstream_edges
from datagov.workspace import Workspace

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
RAI_CONFORMS_TO = "http://mlcommons.org/croissant/RAI/1.0"  # declared when the document carries rai: fields
NO_LICENSE = "https://spdx.org/licenses/NOASSERTION"  # SPDX's own word for "no license recorded"
PARQUET = "application/x-parquet"
# The JSON-LD context Croissant 1.1 documents use (as mlcroissant 1.1 writes it).
CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
    "prov": "http://www.w3.org/ns/prov#",
    "dqv": "http://www.w3.org/ns/dqv#",
}


def _file_object(root: str, entry) -> dict:
    location = f"{root.rstrip('/')}/{entry.path}" if "://" in root else os.path.join(root, entry.path)
    return {
        "@type": "cr:FileObject",
        "@id": entry.path,
        "name": entry.path,
        "contentUrl": location,
        "contentSize": f"{entry.bytes} B",
        "encodingFormat": PARQUET if entry.path.endswith(".parquet") else "application/x-tar",
        "sha256": entry.sha256,
    }


def _collection(con, version: Version) -> tuple[list[str], list[str], list[str], list[str]]:
    """(how it was collected, raw sources, preprocessing steps, ancestor
    versions), walking the lineage up from the version to its sources."""
    collected, raw, steps, ancestors = [], [], [], []
    for edge in upstream_edges(con, ("version", version.node_id)):
        child = short_version(edge.dst[1])
        if edge.src[0] == "source":
            fmt = edge.params.get("format", "?")
            ingested = find_version(con, edge.dst[1])
            on = f" on {ingested.created:%Y-%m-%d %H:%M} UTC" if ingested else " (that version was deleted since)"
            collected.append(f"{child} was {edge.relation} by datagov from {edge.src[1]} (format {fmt}){on}.")
            raw.append(edge.src[1])
        elif edge.relation == "split":
            p = edge.params
            collected.append(f"{child} is the {p.get('split')!r} split of {short_version(edge.src[1])}.")
            steps.append(
                f"Split {short_version(edge.src[1])} into {p.get('fractions')} with seed {p.get('seed')}"
                + (f", at most {p['per_class']} rows per class" if p.get("per_class") else "")
                + (f", dropping {p['dedupe']} duplicates first" if p.get("dedupe") else "")
                + f"; this version is the {p.get('split')!r} split."
            )
        elif edge.relation == "erased":
            p = edge.params
            source = short_version(edge.src[1])
            steps.append(f"Erasure {p.get('erasure')} removed {p.get('removed')} row(s) (items named in an erasure "
                         f"request, and their near-copies) from {source}, writing {child}.")  # fmt: skip
        if edge.src[0] == "version":
            ancestors.append(edge.src[1])
    return collected, raw, steps, ancestors


def _rejected(con, version: Version, ancestors: list[str]) -> list[str]:
    out = []
    for node in [version.node_id, *ancestors]:
        name, _, digest = node.partition("@")
        counts = Counter((r.stage, _reason_kind(r.reason)) for r in rejects_of(con, name, digest))
        for (stage, reason), n in sorted(counts.items()):
            out.append(f"{n} item(s) removed from {short_version(node)} at {stage}: {reason}.")
    return out


def _reason_kind(reason: str) -> str:
    """ "near-duplicate of row 982 (similarity 0.98)" -> "near-duplicate": one line per kind, not per row."""
    return re.split(r"[:(]| of row", reason, maxsplit=1)[0].strip()


def _checks(con, version: Version) -> tuple[list[dict], list[str]]:
    """The newest receipt of each check made on these bytes, as DQV quality
    annotations, and the limitations they found (failed checks, flagged rows)."""
    newest: dict[tuple, Receipt] = {}
    for r in list_receipts(con, dataset=version.dataset, digest=version.digest, include_retired=True):  # newest first
        newest.setdefault((r.kind, r.suite, r.reference_digest), r)
    annotations, limitations = [], []
    for r in newest.values():
        if r.kind == "contamination":
            flagged = r.evaluated - r.successful
            reference = r.reference_digest or r.digest
            against = "itself" if reference == r.digest else f"version {reference[:SHORT]}"
            text = (f"Near-duplicate check against {against} ({r.suite}), receipt {r.id}: "
                    f"{'passed' if r.success else 'FAILED'}, {flagged} of {r.evaluated} rows flagged.")  # fmt: skip
            found = flagged > 0
        elif r.kind == "selection":
            kl = r.results[0]["result"] if r.results else {}
            text = (f"Selected to match version {(r.reference_digest or '?')[:SHORT]} ({r.suite}), receipt {r.id}: "
                    f"{'passed' if r.success else 'FAILED'}, KL {kl.get('observed_value')} against a random draw's "
                    f"{kl.get('kl_random')}.")  # fmt: skip
            found = not r.success
        else:
            verdict = "passed" if r.success else "FAILED"
            text = (f"Great Expectations suite {r.suite!r} ({r.kind}), receipt {r.id}: "
                    f"{verdict}, {r.successful} of {r.evaluated} expectations met.")  # fmt: skip
            found = not r.success
        annotations.append({"@type": "dqv:QualityAnnotation", "description": text,
                            "dateCreated": r.started.strftime("%Y-%m-%dT%H:%M:%S")})  # fmt: skip
        if found:
            limitations.append(text)
    return annotations, limitations


def _provenance(con, ws: Workspace, version: Version) -> dict:
    """prov:wasDerivedFrom (the versions or sources this version was made
    from) and prov:wasGeneratedBy (the datagov step that made it)."""
    derived, activities = [], []
    for edge in upstream_edges(con, ("version", version.node_id)):
        if edge.dst != ("version", version.node_id):
            continue
        if edge.src[0] == "version":
            derived.append({"@id": f"{ws.lineage_namespace}/{edge.src[1]}", "name": short_version(edge.src[1])})
        else:
            derived.append({"name": edge.src[1], "description": f"{edge.src[0]} read by datagov"})
        activities.append(_activity(edge.relation, edge.params, version))
    out = {}
    if derived:
        out["prov:wasDerivedFrom"] = derived
    if activities:
        out["prov:wasGeneratedBy"] = activities
    return out


def _activity(relation: str, params: dict, version: Version) -> dict:
    shown = {k: v for k, v in params.items() if v not in (None, {}, [], "")}
    started = shown.pop("started", None)
    activity = {
        "@type": "prov:Activity",
        "name": f"datagov {relation}",
        "description": ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or relation,
        "prov:endedAtTime": version.created.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if started:
        activity["prov:startedAtTime"] = str(started)[:19]
    return activity


def _distribution(version: Version, files, image: bool) -> dict:
    """The hashed files, and the record sets that read exactly them."""
    objects = [_file_object(files.root, e) for e in files.entries]
    if files.layout == "webdataset":
        labelled = any(c["name"] == "label" for c in version.schema)
        file_sets, record_sets = webdataset_record_sets(files.names, labelled)
        return {"distribution": objects + file_sets, "recordSet": record_sets}
    if all(e.path.endswith(".parquet") for e in files.entries):
        return {"distribution": objects, "recordSet": parquet_record_sets(version, files.names, image)}
    return {"distribution": objects}


def croissant_document(ws: Workspace, ref: str) -> dict:
    """The Croissant JSON-LD of one version."""
    with open_catalog(ws) as con:
        version = resolve(con, ref)
        meta = dataset_row(con, version.dataset)
        files = locate(ws, con, version.digest, version.dataset)
        # numbered from the oldest: a version keeps its number when newer ones arrive
        number = [v.digest for v in reversed(version_history(con, version.dataset))].index(version.digest) + 1
        collected, raw, steps, ancestors = _collection(con, version)
        steps += _rejected(con, version, list(dict.fromkeys(ancestors)))
        annotations, limitations = _checks(con, version)
        provenance = _provenance(con, ws, version)
    license_ = classify(meta.license if meta else None)
    image = bool(meta and meta.modality == "image")
    doc = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "name": version.dataset,
        "description": (meta.description if meta and meta.description else f"{version.dataset}, cataloged by datagov"),
        "conformsTo": CONFORMS_TO,
        "url": f"{ws.lineage_namespace}/{version.dataset}@{version.digest}",
        "identifier": version.node_id,
        "version": f"{number}.0.0",
        "datePublished": version.created.strftime("%Y-%m-%dT%H:%M:%S"),
        "citeAs": f"{version.dataset}, version {version.digest} ({ws.lineage_namespace})",
        "keywords": [f"{k}={v}" for k, v in sorted((meta.tags if meta else {}).items())],
        **_distribution(version, files, image),
    }
    # Croissant requires a license and a creator: when the catalog has none, say so rather than omit them.
    if license_.urls:
        doc["license"] = license_.urls if len(license_.urls) > 1 else license_.urls[0]
    elif meta and meta.license:
        doc["license"] = meta.license  # not an SPDX expression: as declared
    else:
        doc["license"] = NO_LICENSE
    owner = meta.owner if meta and meta.owner else None
    doc["creator"] = {"@type": "sc:Person", "name": owner} if owner else {
        "@type": "sc:Organization", "name": "unknown: no owner is recorded in the datagov catalog"
    }  # fmt: skip
    rai = {
        "rai:dataCollection": " ".join(collected),
        "rai:dataCollectionRawData": ", ".join(dict.fromkeys(raw)),
        "rai:dataPreprocessingProtocol": steps,
        "rai:dataLimitations": limitations,  # only what a check found: a passed check is not a limitation
    }
    doc.update({k: v for k, v in rai.items() if v})
    doc.update(provenance)
    if annotations:
        doc["dqv:hasQualityAnnotation"] = annotations
    if any(k.startswith("rai:") for k in doc):
        doc["conformsTo"] = [CONFORMS_TO, RAI_CONFORMS_TO]
    return doc

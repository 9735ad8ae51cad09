"""A version as Croissant 1.1 JSON-LD (https://mlcommons.org/croissant/1.1):
a FileObject per stored file with its sha256, a RecordSet with a field per
column, license as SPDX URLs, creator from the owner, and the Responsible-AI
fields datagov can fill truthfully from its own records (where the data came
from and how it was derived, what was rejected or removed, which checks it
passed). Fields it has no facts for are left out, not guessed.

Files are named where they are stored (a local path or an s3:// URL). The
record set reads the single file of a one-file version; a version with
several files reads them through a FileSet of the Parquet files beside the
document (`*.parquet`), as Croissant resolves local file sets.
"""

from __future__ import annotations

import os
import re
from collections import Counter

from datagov.catalog.db import open_catalog
from datagov.catalog.locations import locate
from datagov.catalog.receipts import list_receipts
from datagov.catalog.versions import SHORT, Version, dataset_row, history, rejects_of, resolve
from datagov.licenses import classify
from datagov.lineage import short_version, upstream_edges
from datagov.workspace import Workspace

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
RAI_CONFORMS_TO = "http://mlcommons.org/croissant/RAI/1.0"  # declared when the document carries rai: fields
NO_LICENSE = "https://spdx.org/licenses/NOASSERTION"  # SPDX's own word for "no license recorded"
RECORDS = "records"
FILES = "parquet-files"
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
}
_TYPES = {
    "BIGINT": "sc:Integer", "INTEGER": "sc:Integer", "SMALLINT": "sc:Integer", "TINYINT": "sc:Integer",
    "UBIGINT": "sc:Integer", "UINTEGER": "sc:Integer", "USMALLINT": "sc:Integer", "UTINYINT": "sc:Integer",
    "HUGEINT": "sc:Integer", "DOUBLE": "sc:Float", "FLOAT": "sc:Float", "REAL": "sc:Float", "BOOLEAN": "sc:Boolean",
    "VARCHAR": "sc:Text", "DATE": "sc:Date", "TIMESTAMP": "sc:DateTime", "TIMESTAMP WITH TIME ZONE": "sc:DateTime",
}  # fmt: skip


def _field(version: Version, column: dict, image: bool, source: dict) -> dict:
    kind = column["type"].upper()
    if kind == "BLOB":
        data_type = "sc:ImageObject" if image and column["name"] == "image" else "sc:Text"
    else:
        data_type = _TYPES.get(kind.split("(")[0], "sc:Text")
    out = {
        "@type": "cr:Field",
        "@id": f"{RECORDS}/{column['name']}",
        "name": column["name"],
        "dataType": data_type,
        "source": {**source, "extract": {"column": column["name"]}},
    }
    if data_type == "sc:Text" and kind != "VARCHAR":
        out["description"] = f"stored as {column['type']}"  # bytes or a nested value, read as stored
    return out


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
            when = resolve(con, edge.dst[1]).created
            collected.append(f"{child} was {edge.relation} by datagov from {edge.src[1]} (format {fmt}) "
                             f"on {when:%Y-%m-%d %H:%M} UTC.")  # fmt: skip
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


def _checks(con, version: Version) -> list[str]:
    """The newest receipt of each check made on these bytes."""
    newest = {}
    for r in list_receipts(con, dataset=version.dataset, digest=version.digest):  # newest first
        newest.setdefault((r.kind, r.suite, r.reference_digest), r)
    out = []
    for r in newest.values():
        when = f"{r.started:%Y-%m-%d}"
        if r.kind == "contamination":
            flagged = r.evaluated - r.successful
            against = "itself" if r.reference_digest == r.digest else f"version {r.reference_digest[:SHORT]}"
            out.append(f"Near-duplicate check against {against} ({r.suite}), receipt {r.id} on {when}: "
                       f"{'passed' if r.success else 'FAILED'}, {flagged} of {r.evaluated} rows flagged.")  # fmt: skip
        else:
            verdict = "passed" if r.success else "FAILED"
            out.append(f"Great Expectations suite {r.suite!r} ({r.kind}), receipt {r.id} on {when}: "
                       f"{verdict}, {r.successful} of {r.evaluated} expectations met.")  # fmt: skip
    return out


def croissant(ws: Workspace, ref: str) -> dict:
    """The Croissant JSON-LD of one version."""
    with open_catalog(ws) as con:
        version = resolve(con, ref)
        meta = dataset_row(con, version.dataset)
        files = locate(ws, con, version.digest, version.dataset)
        # numbered from the oldest: a version keeps its number when newer ones arrive
        number = [v.digest for v in reversed(history(con, version.dataset))].index(version.digest) + 1
        collected, raw, steps, ancestors = _collection(con, version)
        steps += _rejected(con, version, list(dict.fromkeys(ancestors)))
        checks = _checks(con, version)
    license_ = classify(meta.license if meta else None)
    image = bool(meta and meta.modality == "image")
    parquet = all(e.path.endswith(".parquet") for e in files.entries)
    distribution = [_file_object(files.root, e) for e in files.entries]
    if len(files.entries) == 1:
        source = {"fileObject": {"@id": files.entries[0].path}}
    else:
        distribution.append({"@type": "cr:FileSet", "@id": FILES, "name": FILES, "encodingFormat": PARQUET,
                             "includes": "*.parquet"})  # fmt: skip
        source = {"fileSet": {"@id": FILES}}
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
        "distribution": distribution,
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
    if parquet:
        fields = [_field(version, c, image, source) for c in version.schema]
        doc["recordSet"] = [{"@type": "cr:RecordSet", "@id": RECORDS, "name": RECORDS, "field": fields}]
    rai = {
        "rai:dataCollection": " ".join(collected),
        "rai:dataCollectionRawData": ", ".join(dict.fromkeys(raw)),
        "rai:dataPreprocessingProtocol": steps,
        "rai:dataLimitations": checks,
    }
    doc.update({k: v for k, v in rai.items() if v})
    if any(k.startswith("rai:") for k in doc):
        doc["conformsTo"] = [CONFORMS_TO, RAI_CONFORMS_TO]
    return doc

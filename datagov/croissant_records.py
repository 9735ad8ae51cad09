"""Croissant record sets that read exactly a version's own files, wherever
the document is written.

mlcroissant (the reference reader, 1.1.1) resolves a top-level FileSet by
walking the folder the *document* sits in, so a `*.parquet` FileSet reads
nothing when the document is written elsewhere, and foreign files when it is
written beside other Parquet files. So:

- Parquet: one record set per file, each reading its hashed FileObject
  (`records` for a one-file version; `records-1`, `records-2`, ... in
  manifest order otherwise), every one with the same fields;
- WebDataset shards registered in place: a FileSet of image members
  contained in the hashed tar FileObjects, keyed as WebDataset keys them
  (the member path up to the first '.' of its file name), with each sample's
  `KEY.cls` label joined by key.
"""

from __future__ import annotations

from datagov.catalog.versions import Version
from datagov.store.images.webdataset import IMAGE_EXTS

RECORDS = "records"
SAMPLES, IMAGES, LABELS, LABEL_FILES = "samples", "image-members", "labels", "label-members"
# WebDataset's key: the member path up to the first '.' of its file name; idempotent,
# as mlcroissant's join applies it again to keys already cut.
KEY_REGEX = r"^((?:.*/)?[^/.]*)"
_TYPES = {
    "BIGINT": "sc:Integer", "INTEGER": "sc:Integer", "SMALLINT": "sc:Integer", "TINYINT": "sc:Integer",
    "UBIGINT": "sc:Integer", "UINTEGER": "sc:Integer", "USMALLINT": "sc:Integer", "UTINYINT": "sc:Integer",
    "HUGEINT": "sc:Integer", "DOUBLE": "sc:Float", "FLOAT": "sc:Float", "REAL": "sc:Float", "BOOLEAN": "sc:Boolean",
    "VARCHAR": "sc:Text", "DATE": "sc:Date", "TIMESTAMP": "sc:DateTime", "TIMESTAMP WITH TIME ZONE": "sc:DateTime",
}  # fmt: skip


def parquet_record_sets(version: Version, paths: list[str], image: bool) -> list[dict]:
    """A record set per stored Parquet file (`paths` are the FileObjects' ids)."""
    if len(paths) == 1:
        return [_record_set(RECORDS, version, paths[0], image, f"The {version.rows:,} rows of this version.")]
    every = f"the version's rows are record sets {RECORDS}-1 to {RECORDS}-{len(paths)}, in this order"
    return [
        _record_set(f"{RECORDS}-{i}", version, path, image, f"Rows of {path}, file {i} of {len(paths)}: {every}.")
        for i, path in enumerate(paths, start=1)
    ]


def _record_set(name: str, version: Version, path: str, image: bool, description: str) -> dict:
    source = {"fileObject": {"@id": path}}
    fields = [_field(name, column, image, source) for column in version.schema]
    return {"@type": "cr:RecordSet", "@id": name, "name": name, "description": description, "field": fields}


def _field(record_set: str, column: dict, image: bool, source: dict) -> dict:
    kind = column["type"].upper()
    if kind == "BLOB":
        data_type = "sc:ImageObject" if image and column["name"] == "image" else "sc:Text"
    else:
        data_type = _TYPES.get(kind.split("(")[0], "sc:Text")
    out = {
        "@type": "cr:Field",
        "@id": f"{record_set}/{column['name']}",
        "name": column["name"],
        "dataType": data_type,
        "source": {**source, "extract": {"column": column["name"]}},
    }
    if data_type == "sc:Text" and kind != "VARCHAR":
        out["description"] = f"stored as {column['type']}"  # bytes or a nested value, read as stored
    return out


def webdataset_record_sets(shards: list[str], labelled: bool) -> tuple[list[dict], list[dict]]:
    """(FileSets, record sets) over tar shards: a sample per image member, its
    label joined from `KEY.cls` when the version is labelled."""
    contained = [{"@id": shard} for shard in shards]
    file_sets = [_member_set(IMAGES, contained, [f"*.{ext}" for ext in IMAGE_EXTS], "image/*")]
    key = _key_field(SAMPLES, IMAGES)
    fields = [key, _content_field(SAMPLES, "image", IMAGES, "sc:ImageObject")]
    record_sets: list[dict] = []
    if labelled:
        file_sets.append(_member_set(LABEL_FILES, contained, ["*.cls"], "text/plain"))
        key["references"] = {"field": {"@id": f"{LABELS}/key"}}
        fields.append({"@type": "cr:Field", "@id": f"{SAMPLES}/label", "name": "label", "dataType": "sc:Integer",
                       "source": {"field": {"@id": f"{LABELS}/label"}}})  # fmt: skip
        record_sets.append({
            "@type": "cr:RecordSet", "@id": LABELS, "name": LABELS,
            "description": "Each sample's class id, from its KEY.cls member (labels given as KEY.json are not "
                           "described here: `datagov` reads them).",
            "field": [_key_field(LABELS, LABEL_FILES), _content_field(LABELS, "label", LABEL_FILES, "sc:Integer")],
        })  # fmt: skip
    record_sets.insert(0, {
        "@type": "cr:RecordSet", "@id": SAMPLES, "name": SAMPLES, "key": {"@id": key["@id"]},
        "description": "A sample per image member of the shards (WebDataset keys); when a sample holds several "
                       "images, datagov uses the first in its extension order and this record set lists each.",
        "field": fields,
    })  # fmt: skip
    return file_sets, record_sets


def _member_set(name: str, contained: list[dict], includes: list[str], media: str) -> dict:
    return {"@type": "cr:FileSet", "@id": name, "name": name, "containedIn": contained,
            "encodingFormat": media, "includes": includes}  # fmt: skip


def _key_field(record_set: str, file_set: str) -> dict:
    return {
        "@type": "cr:Field", "@id": f"{record_set}/key", "name": "key", "dataType": "sc:Text",
        "source": {"fileSet": {"@id": file_set}, "extract": {"fileProperty": "fullpath"},
                   "transform": {"regex": KEY_REGEX}},
    }  # fmt: skip


def _content_field(record_set: str, name: str, file_set: str, data_type: str) -> dict:
    return {"@type": "cr:Field", "@id": f"{record_set}/{name}", "name": name, "dataType": data_type,
            "source": {"fileSet": {"@id": file_set}, "extract": {"fileProperty": "content"}}}  # fmt: skip

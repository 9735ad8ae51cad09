"""`datagov models diff NAME V1 V2`: what differs between two versions of
one registered model: the data they were trained and evaluated on (by
dataset: digest, owner, license), the suites and receipts the gate used,
waivers, the encoder, params and metrics. Built on `review.facts.gather`,
so it reads exactly what `models review` shows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from datagov import tags as tag_keys
from datagov.errors import InvalidInput
from datagov.review.facts import ModelFacts, gather
from datagov.workspace import Workspace


@dataclass
class Change:
    section: str  # data | suites | receipts | waivers | encoder | params | metrics
    key: str
    old: object
    new: object


@dataclass
class ModelDiff:
    name: str
    old: str  # version
    new: str
    changes: list[Change] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def _data(facts: ModelFacts) -> dict[str, dict]:
    """role and dataset -> what that data was, for each dataset the version used."""
    return {
        f"{d.role} {d.ref.partition('@')[0]}": {"digest": d.digest, "owner": d.owner, "license": d.license}
        for d in facts.data
    }


def _listed(facts: ModelFacts, key: str) -> list[str]:
    return [x for x in facts.tags.get(key, "").split(",") if x]


def _compare(section: str, old: dict, new: dict) -> list[Change]:
    return [
        Change(section, key, old.get(key), new.get(key))
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]


def _as_set(section: str, old: list[str], new: list[str]) -> list[Change]:
    """Members only in one version, as (member, present in old, present in new)."""
    return [Change(section, item, item in old, item in new) for item in sorted(set(old) ^ set(new))]


def check_pair(name: str, v1: str, v2: str) -> None:
    """Two version numbers of one model, not the same one."""
    for v in (v1, v2):
        if "/" in v or ":" in v:
            raise InvalidInput(
                f"{v!r} is not a version number: `models diff` compares two versions of {name!r}",
                hint=f"datagov models diff {name} 1 2",
            )
    if v1 == v2:
        raise InvalidInput(f"{name} {v1} and {v2} are the same version: nothing to compare")


def diff_versions(ws: Workspace, name: str, v1: str, v2: str) -> ModelDiff:
    check_pair(name, v1, v2)
    return diff_facts(gather(ws, name, v1), gather(ws, name, v2))


def diff_facts(a: ModelFacts, b: ModelFacts) -> ModelDiff:
    """What changed from `a` to `b` (two versions' facts, gathered already)."""
    out = ModelDiff(a.name, a.version, b.version)
    out.changes += _compare("data", _data(a), _data(b))
    out.changes += _as_set("suites", _listed(a, tag_keys.SUITES), _listed(b, tag_keys.SUITES))
    out.changes += _as_set("receipts", _listed(a, tag_keys.RECEIPTS), _listed(b, tag_keys.RECEIPTS))
    out.changes += _as_set(
        "waivers", [f"{w.id}: {w.reason}" for w in a.waivers], [f"{w.id}: {w.reason}" for w in b.waivers]
    )
    encoder = {"encoder": a.tags.get(tag_keys.ENCODER_VERSION)}, {"encoder": b.tags.get(tag_keys.ENCODER_VERSION)}
    out.changes += _compare("encoder", *encoder)
    out.changes += _compare("params", a.params, b.params)
    out.changes += _compare("metrics", a.metrics, b.metrics)
    return out

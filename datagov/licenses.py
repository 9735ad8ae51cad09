"""Licenses as SPDX expressions: parsed with `license-expression`'s SPDX
list, turned into spdx.org URLs (Croissant), and classified for model cards
and promotion policy: unknown (none declared, or not an SPDX expression),
non-commercial (NC) and no-derivatives (ND).

For `A OR B` the licensee may pick either, so a flag holds only when every
choice carries it; for `A AND B` (and `WITH` exceptions) one is enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

UNKNOWN = "unknown"
NON_COMMERCIAL = "non-commercial"
NO_DERIVATIVES = "no-derivatives"
RESTRICTIVE = (NON_COMMERCIAL, NO_DERIVATIVES)
FLAGS = (UNKNOWN, *RESTRICTIVE)

_NC = re.compile(r"(^|-)NC(-|$)|non-?commercial", re.IGNORECASE)
_ND = re.compile(r"(^|-)ND(-|$)|no-?deriv", re.IGNORECASE)


@dataclass(frozen=True)
class License:
    declared: str | None  # as recorded in the catalog
    spdx: str | None  # the normalized SPDX expression, None when it is not one
    keys: tuple[str, ...] = ()
    flags: tuple[str, ...] = field(default_factory=tuple)  # unknown | non-commercial | no-derivatives

    @property
    def urls(self) -> list[str]:
        """spdx.org pages of the licenses it names (exceptions are not licenses)."""
        return [f"https://spdx.org/licenses/{k}.html" for k in self.keys if not k.endswith("-exception")]

    @property
    def restrictive(self) -> bool:
        return any(f in RESTRICTIVE for f in self.flags)


@lru_cache(maxsize=1)
def _licensing():
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def _key_flags(key: str) -> set[str]:
    return {f for f, pattern in ((NON_COMMERCIAL, _NC), (NO_DERIVATIVES, _ND)) if pattern.search(key)}


def classify(declared: str | None) -> License:
    text = (declared or "").strip()
    if not text:
        return License(declared, None, (), (UNKNOWN,))
    licensing = _licensing()
    info = licensing.validate(text)
    if info.errors or not info.normalized_expression:
        return License(declared, None, (), (UNKNOWN,))
    keys = tuple(licensing.license_keys(licensing.parse(text)))
    per_key = [_key_flags(k) for k in keys if not k.endswith("-exception")]
    if " OR " in info.normalized_expression:
        flags = set.intersection(*per_key) if per_key else set()
    else:
        flags = set().union(*per_key)
    return License(declared, info.normalized_expression, keys, tuple(sorted(flags)))

"""Images as arrays, the leaf that every layer reading images shares:
`codec` (decode, describe, encode), `fingerprints` (thumbnails, pHash and
dHash, numpy only), `shape` (a version's one image shape) and `tensors`
(encoded images to torch). It imports nothing from `sources/`, `near/`,
`shift/` or `training/`, which all import it. Import the submodules
themselves: this package imports none of them (torch stays unloaded)."""

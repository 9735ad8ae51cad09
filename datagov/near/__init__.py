"""Near-duplicate images and text: fingerprints, search, and the contamination check."""

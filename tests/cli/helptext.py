"""Reading help as one line of text."""

import re


def flat(text: str) -> str:
    """Help output without line wrapping: a word the wrapper broke after its
    hyphen ("sklearn-" / "digits") is joined again."""
    return " ".join(re.sub(r"-\n\s+", "-", text).split())

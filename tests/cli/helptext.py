"""Reading rich's help panels as plain text."""

import re


def flat(text: str) -> str:
    """Help output without panel borders and line wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())

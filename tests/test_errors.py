"""One Error line from any exception: its first line, cut at a word, never mid-word."""

from hypothesis import given
from hypothesis import strategies as st

from datagov.errors import first_line


def test_a_long_message_is_cut_at_a_word_and_says_so():
    text = "cannot deliver: " + "new connection refused by the receiver " * 10
    line = first_line(text, limit=60)
    assert line.endswith("…") and len(line) <= 61
    assert text.startswith(line[:-1]) and text[len(line) - 1] == " "  # the cut falls between words


def test_the_first_line_of_a_traceback_only():
    assert first_line("boom\nTraceback (most recent call last):\n  File x") == "boom"
    assert first_line(ValueError()) == "ValueError"


@given(st.text(min_size=1, max_size=600))
def test_any_text_gives_one_bounded_line(text):
    line = first_line(text)
    assert "\n" not in line and len(line) <= 241

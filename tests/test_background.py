"""Work in the background: its value, its error, or StillRunning at the deadline."""

import threading

import pytest

from datagov.background import StillRunning, in_background


def test_the_value_the_error_and_the_deadline():
    assert in_background(lambda a, b: a + b, 2, 3)() == 5
    with pytest.raises(KeyError):
        in_background(lambda: {}["x"])()
    release = threading.Event()
    waiting = in_background(release.wait, thread_name="slow")
    with pytest.raises(StillRunning, match=r"slow still running after 0\.05 s"):
        waiting(0.05)
    release.set()
    assert waiting(5) is True
    with pytest.raises(TimeoutError):  # a TimeoutError of the work's own is its error, not the deadline
        in_background(lambda: (_ for _ in ()).throw(TimeoutError("socket")))(5)

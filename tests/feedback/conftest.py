"""The store fixture of the store suites: a FeedbackStore over the module's own ``url`` fixture."""

from __future__ import annotations

import pytest

from genre.feedback.store import FeedbackStore


@pytest.fixture
def store(url):
    s = FeedbackStore(url)
    yield s
    s.close()

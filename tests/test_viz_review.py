"""The pairwise win-rate figure: interval error bars around each rate, typed labels escaped, empty pairs left out."""

from __future__ import annotations

import pytest

from genre.viz_review import win_rate_chart


def test_error_bars_reach_the_interval_ends_and_labels_are_escaped():
    fig = win_rate_chart(
        ["template vs tuned-local · style=short", "a <b>x</b> vs b", "nothing yet"],
        [0.25, 0.6, None],
        [0.1, 0.4, 0.0],
        [0.5, 0.9, 1.0],
    )
    assert fig is not None
    bar = fig.data[0]
    assert list(bar.y) == ["template vs tuned-local · style=short", "a &lt;b&gt;x&lt;/b&gt; vs b"]
    assert list(bar.x) == [0.25, 0.6]
    # Plotly draws x - arrayminus to x + array: exactly the interval.
    lows = [x - m for x, m in zip(bar.x, bar.error_x.arrayminus, strict=True)]
    highs = [x + p for x, p in zip(bar.x, bar.error_x.array, strict=True)]
    assert lows == pytest.approx([0.1, 0.4]) and highs == pytest.approx([0.5, 0.9])
    assert fig.layout.title.text == "Win rate of arm A (95% interval)"


def test_no_rates_no_figure():
    assert win_rate_chart(["a vs b"], [None], [0.0], [1.0]) is None
    assert win_rate_chart([], [], [], []) is None

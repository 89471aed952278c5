"""The label every page shows beside metrics or histories that come from a simulated behaviour log."""

from __future__ import annotations

import streamlit as st

from genre.config import DataConfig
from genre.data import simulated_label


def simulated_banner(data: DataConfig | None) -> None:
    """A warning that the data is simulated (nothing for real data), so no one reads its metrics as evidence."""
    label = simulated_label(data) if data is not None else None
    if label:
        st.warning(label, icon=":material/science:")

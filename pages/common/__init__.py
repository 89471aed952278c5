"""Streamlit glue shared by the explorer's pages (Streamlit does not treat this sub-folder as pages)."""

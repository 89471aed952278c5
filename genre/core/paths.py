"""Where GENRE keeps derived files (converted models, embedding caches, trained state).

Nothing here is ever committed: MovieLens-derived files may not be redistributed.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """``$GENRE_CACHE_DIR`` if set, else ``~/.cache/genre``; created on first use."""
    env = os.environ.get("GENRE_CACHE_DIR")
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "genre"
    path.mkdir(parents=True, exist_ok=True)
    return path

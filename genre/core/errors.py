"""The project's error and warning classes, in one place.

Every error a user can cause derives from :class:`GenreError`; the CLI and the
explorer print its message as one line and never a traceback.
"""

from __future__ import annotations


class GenreError(Exception):
    """A problem the user can fix; the message says what and how."""


class ConfigError(GenreError):
    """A pipeline config that does not validate (unknown key, component or value)."""


class DataError(GenreError):
    """A catalog, interaction table or profile that cannot be read or is inconsistent."""


class InputError(GenreError):
    """Bad request input: unknown user, unknown titles, invalid k."""


class ModelUnavailableError(GenreError):
    """A model package or file is missing; the message names the `make` target that fixes it."""


class FeedbackError(GenreError):
    """A feedback event that cannot be stored or applied (unknown kind, run or item; value out of range)."""


class StoreUnavailableError(GenreError):
    """The feedback store cannot be opened or written; the message names the file and the fix."""


class BuildCancelled(GenreError):
    """A pipeline build stopped because its cancel event was set (e.g. the browser session that asked for it left)."""


class ShardError(GenreError):
    """A sharded Ray job could not finish: the message names the shard, its users and why (a worker that kept
    dying, an error inside the shard, a cluster that cannot be reached)."""


class CorruptArtifactError(Exception):
    """Saved state that cannot be used: truncated, garbled or not fitting its key.

    Raised while reading an artifact and caught by the artifact store, which deletes the artifact and
    adds a notice; the component then retrains. Never reaches a user as an error.
    """


class GenreWarning(UserWarning):
    """Something worked but degraded (e.g. a scorer could not score any candidate)."""

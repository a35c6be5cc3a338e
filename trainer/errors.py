"""Trainer errors.

One base class so the lead can map every trainer failure to the registry's
domain errors in one place; each subclass names one way a run must stop.
"""

from __future__ import annotations


class TrainerError(RuntimeError):
    """Base class of every error the trainer raises on purpose."""


class ShardUnknownError(TrainerError):
    """The shard id is not registered (a ShardSource may raise this from resolve)."""


class ShardRevokedError(TrainerError):
    """The shard is registered but not active, so it must not be read (invariant 3/7)."""


class ShardMissingError(TrainerError):
    """The shard is registered but its stored file is gone."""


class ShardIntegrityError(TrainerError):
    """The stored bytes do not hash to the shard id (invariant 3)."""


class ShardFormatError(TrainerError):
    """The verified bytes are not a canonical shard (Parquet with `id`, `text`)."""


class TrainingDivergedError(TrainerError):
    """The loss became NaN or infinite; stepping on would corrupt the weights."""


class RunFailed(TrainerError):
    """Anything else that stopped a run (a full disk, a bug): it is marked failed with this
    reason, never left looking interrupted."""

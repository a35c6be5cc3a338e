"""Stamped weights for a GPT: save with provenance, load and rebuild the model.

Convention: `WeightsStamp.config` is the model's `GPTConfig.to_dict()`, so a
weights file alone rebuilds its model; training hyperparameters belong to
the run record in the registry.
"""

from __future__ import annotations

import os

from safetensors.torch import load_file

from manifests.stamp import WeightsStamp
from registry.runs import read_stamp
from trainer.model import GPT, GPTConfig, load_model_state, model_state_for_save
from trainer.stamping import write_stamped_weights


def save_weights(path: str | os.PathLike[str], model: GPT, stamp: WeightsStamp) -> str:
    """Write the model's weights stamped with `stamp`; return the file's SHA-256.

    Raises:
        ValueError: the stamp's config is not this model's config.
    """
    if stamp.config != model.config.to_dict():
        raise ValueError("stamp.config must equal model.config.to_dict()")
    return write_stamped_weights(path, model_state_for_save(model), stamp)


def load_weights(path: str | os.PathLike[str]) -> tuple[GPT, WeightsStamp]:
    """Rebuild the model a stamped weights file describes, and return its stamp.

    Raises:
        FileNotFoundError: no file at `path`.
        manifests.errors.StampError: not a safetensors file, no stamp or a malformed one.
        ValueError: the config or the tensors do not describe a GPT.
    """
    stamp = read_stamp(path)
    model = GPT(GPTConfig.from_dict(stamp.config))
    load_model_state(model, load_file(os.fspath(path)))
    return model, stamp

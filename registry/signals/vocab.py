"""The IETF AI-preferences vocabulary (draft-ietf-aipref-vocab): bytes to a train-ai preference.

A statement of preference is an RFC 9651 Dictionary of category labels to the tokens ``y`` and
``n`` (``train-ai=n, search=y``), parsed with ``http-sf``. Unknown labels and all parameters are
ignored; a value that is not the token ``y`` or ``n`` leaves that category unknown; bytes that do
not parse as a Dictionary (uppercase keys, trailing commas, ...) state no preference at all.

The labels have changed between drafts, so each draft we know is a ``Vocabulary`` naming, most
specific first, the labels that bear on training AI models (``-03`` had ``bots``, automated
processing, as the parent of ``train-ai``; ``-02`` called it ``all``). Every observation stores
the vocabulary it was read with, and ``provreg signals reparse`` reads the stored bytes again
with another one. ``CURRENT`` is what new observations are read with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import http_sf
from http_sf.types import Token

Preference = Literal["y", "n"]
State = Literal["allow", "disallow", "unknown"]


@dataclass(frozen=True)
class Vocabulary:
    """One draft's labels: ``training`` are the labels that decide AI training, most specific
    first (a more general category applies only where the specific one is not stated)."""

    name: str
    labels: tuple[str, ...]
    training: tuple[str, ...]


VOCABULARIES: Final[dict[str, Vocabulary]] = {
    v.name: v
    for v in (
        # -07 (19 August 2026) is the working group's repository head we read; -05 to -07 have
        # the same two labels (only the category's name changed: "Foundation Model
        # Production" -> "AI Model Training").
        Vocabulary("draft-ietf-aipref-vocab-07", ("train-ai", "search"), ("train-ai",)),
        Vocabulary("draft-ietf-aipref-vocab-06", ("train-ai", "search"), ("train-ai",)),
        Vocabulary("draft-ietf-aipref-vocab-05", ("train-ai", "search"), ("train-ai",)),
        Vocabulary(
            "draft-ietf-aipref-vocab-04",
            ("bots", "train-ai", "ai-output", "search"),
            ("train-ai", "bots"),
        ),
        Vocabulary(
            "draft-ietf-aipref-vocab-03",
            ("bots", "train-ai", "train-genai", "search"),
            ("train-genai", "train-ai", "bots"),
        ),
        Vocabulary(
            "draft-ietf-aipref-vocab-02",
            ("all", "train-ai", "train-genai", "ai-use", "search"),
            ("train-genai", "train-ai", "all"),
        ),
    )
}
CURRENT: Final = "draft-ietf-aipref-vocab-07"


def vocabulary(name: str) -> Vocabulary:
    """The vocabulary called ``name``.

    Raises:
        KeyError: no vocabulary of that name (the caller says which exist: ``VOCABULARIES``).
    """
    return VOCABULARIES[name]


@dataclass(frozen=True)
class Statement:
    """A parsed statement: the known labels' explicit preferences, and whether it parsed."""

    preferences: dict[str, Preference]
    error: str | None = None

    def training(self, vocab: Vocabulary) -> State:
        """The train-ai outcome: the most specific training label stated decides."""
        for label in vocab.training:
            pref = self.preferences.get(label)
            if pref is not None:
                return "allow" if pref == "y" else "disallow"
        return "unknown"

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"preferences": dict(sorted(self.preferences.items()))}
        if self.error is not None:
            out["error"] = self.error
        return out


def parse_statement(data: bytes, vocab: Vocabulary) -> Statement:
    """Bytes to the preferences ``vocab`` knows (the draft's processing algorithm, section 6.5).

    Never raises: a parse failure is a statement with no preferences and ``error`` set.
    """
    try:
        parsed = http_sf.parse(data, tltype="dictionary")
    except (http_sf.StructuredFieldError, ValueError) as exc:
        return Statement({}, error=str(exc))
    if not isinstance(parsed, dict):  # pragma: no cover - tltype="dictionary" returns one
        return Statement({}, error="not a Dictionary")
    prefs: dict[str, Preference] = {}
    for label in vocab.labels:
        value = token(parsed, label)
        if value in ("y", "n"):
            prefs[label] = "y" if value == "y" else "n"
    return Statement(prefs)


def token(parsed: dict[str, Any], key: str) -> str | None:
    """The Token value of ``key`` in a parsed Dictionary (parameters disregarded), else None."""
    member = parsed.get(key)
    if isinstance(member, tuple) and isinstance(member[0], Token):
        return str(member[0])
    return None


def combine(states: list[State]) -> State:
    """Several statements for one asset (vocab section 7.1): any disallow wins, then any allow."""
    if "disallow" in states:
        return "disallow"
    if "allow" in states:
        return "allow"
    return "unknown"

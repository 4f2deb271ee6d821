"""How much of a user's history a retriever reads, so that `semid retrieve` and the server can say when they
cut one instead of cutting it silently.

The backbones (semid.retrieve.backbones) keep the most recent part of a history that is longer than their
input: the ``minilm`` backbone its last ``max_history`` items, the ``t5`` backbone its last
``max_input_tokens`` SID tokens (each item is its SID tokens and an EOS, so the oldest item kept may lose
its first tokens). This module reads those limits from the backbone's config; it does not change what the
backbone does.
"""

from __future__ import annotations

from dataclasses import dataclass

from semid.retrieve.backbones import Backbone, MiniLMBackbone
from semid.retrieve.t5_backbone import T5Backbone


@dataclass(frozen=True)
class HistoryLimit:
    size: int  # the most recent `size` units of a history are read, the older ones ignored
    unit: str  # "items" or "SID tokens"
    setting: str  # the model config field that sets it


def history_limit(backbone: Backbone) -> HistoryLimit | None:
    """The limit of a history model; None for a text model or a backbone whose limit is not known here."""
    if backbone.input_kind != "history":
        return None
    if isinstance(backbone, MiniLMBackbone):
        return HistoryLimit(int(backbone.model.cfg.max_history), "items", "max_history")
    if isinstance(backbone, T5Backbone):
        return HistoryLimit(int(backbone.cfg.max_input_tokens), "SID tokens", "max_input_tokens")
    return None


def history_length(backbone: Backbone, history: list[str]) -> int:
    """The length of a history in its limit's unit (its item ids must be in the backbone's SID table)."""
    if isinstance(backbone, T5Backbone):
        tokens = backbone.inputs.item_tokens()
        return sum(len(tokens[int(row)]) for row in backbone.inputs.table.lookup(history))
    return len(history)


def cut_histories(backbone: Backbone, histories: list[list[str]]) -> tuple[int, HistoryLimit | None]:
    """(how many of `histories` are longer than the backbone reads, its limit)."""
    limit = history_limit(backbone)
    if limit is None:
        return 0, None
    return sum(history_length(backbone, h) > limit.size for h in histories), limit


def cut_message(limit: HistoryLimit, n_cut: int, n: int) -> str:
    """One line for the CLI: how many histories were cut, and to what."""
    what = "history is" if n == 1 else "histories are"
    return (
        f"{n_cut} of {n} {what} longer than this model reads: only the most recent {limit.size} {limit.unit} "
        f"of each were used ({limit.setting}), the older ones ignored"
    )


def request_warning(backbone: Backbone, history: list[str]) -> str | None:
    """What a server answer says about one request's history: None when the model reads all of it."""
    limit = history_limit(backbone)
    if limit is None:
        return None
    length = history_length(backbone, history)
    if length <= limit.size:
        return None
    return (
        f"the history is {length} {limit.unit} long; this model reads only the most recent {limit.size} "
        f"({limit.setting}), the older ones were ignored"
    )

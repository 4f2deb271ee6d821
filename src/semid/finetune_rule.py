"""Which settings may fine-tune MiniLM's top layers (``finetune_layers``): the one rule that `semid train`
(semid.retrieve.build) and `semid bench` (its config check, and its data check) apply.

Kept free of torch: the bench checks its config with it before loading anything.
"""

from __future__ import annotations

from semid.errors import DataError

FIELD = "finetune_layers (--finetune-layers)"


def check_finetune_request(n: int, backbone: str, input_kind: str | None = None, dataset: str | None = None) -> None:
    """ValueError / DataError unless training MiniLM's top `n` layers fits: n >= 0, and n > 0 only with the
    minilm backbone and text queries. ``input_kind`` None: the queries are not read yet (checked once they
    are). ``dataset``: its name, for the message. Whether the encoder has `n` layers is checked where it is
    loaded (semid.retrieve.query_layers)."""
    if n < 0:
        raise ValueError(f"{FIELD} must be >= 0, got {n}")
    if not n:
        return
    if backbone != "minilm":
        raise DataError(
            f"fine-tunes MiniLM's top layers, so it needs the minilm backbone, not {backbone} (use 0)", source=FIELD
        )
    if input_kind is not None and input_kind != "text":
        queries = f"the {dataset} queries" if dataset else "this dataset's queries"
        raise DataError(f"trains the query text encoder; {queries} are histories, not text (use 0)", source=FIELD)

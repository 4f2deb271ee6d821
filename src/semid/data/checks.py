"""What a catalogue and its query records cannot support, said when the dataset is built (`semid data import`,
`semid data prepare`), not when a method fails on it later."""

from __future__ import annotations

from typing import TYPE_CHECKING

from semid.eval.metrics import FEW_TEST_QUERIES

if TYPE_CHECKING:
    import pandas as pd


def dataset_warnings(items: pd.DataFrame, queries: pd.DataFrame) -> list[str]:
    """One sentence per problem, naming the field or flag to change; `items` carries ``is_head``."""
    notes = []
    n_head = int(items["is_head"].sum())
    if n_head == 0:
        notes.append(
            "no head items: every item's 'popularity' is 0, so the head/tail split is empty (every item is tail) "
            "and ACRQ / SA²CRQ (acrq, sa2crq) cannot run. Fill the items' 'popularity' field (e.g. interactions "
            "or clicks per item; counting each item's query targets is one way) to use them"
        )
    elif n_head == len(items) and len(items) > 1:
        notes.append("every item is head: ACRQ / SA²CRQ need tail items too; import with a lower --head-coverage")
    counts = queries["split"].value_counts()
    if counts.get("train", 0) == 0:
        notes.append("no 'train' records: `semid train` and `semid bench` have nothing to learn from")
    if counts.get("valid", 0) == 0:
        notes.append("no 'valid' records: training cannot pick its best epoch or stop early (the last epoch is kept)")
    n_test = int(counts.get("test", 0))
    if n_test == 0:
        notes.append("no 'test' records: `semid bench` has nothing to evaluate")
    elif n_test < FEW_TEST_QUERIES:
        notes.append(f"only {n_test} 'test' records (< {FEW_TEST_QUERIES}): too few for a recall to be read")
    notes.extend(input_kind_notes(queries))
    return notes


def input_kind_notes(queries: pd.DataFrame) -> list[str]:
    """A retriever learns from one input: every record's query text, or every record's history."""
    has_text = queries["query"].str.strip() != ""
    has_history = queries["history"].map(len) > 0
    if has_text.all() and has_history.any():
        return [
            f"{int(has_history.sum()):,} records have a history as well as query text: retrievers take the text "
            "alone (text + history inputs are not supported), so those histories are not used"
        ]
    if has_text.any() and not has_text.all():  # with neither input a record is refused when read (validate_queries)
        return [
            f"records mix inputs ({int(has_text.sum()):,} with query text, {int((~has_text).sum()):,} with a "
            "history alone): `semid train` and `semid bench` need query text on every record, or a history on every one"
        ]
    return []

"""Vectors of items `semid assign` added: kept beside the SID table, applied where they are the model's space."""

import numpy as np

from semid.assigned_vectors import (
    ASSIGNED_VECTORS,
    CONTENT,
    apply_assigned_vectors,
    read_assigned_vectors,
    record_assigned_vectors,
)
from semid.embed.encoder import resolve_model_path
from semid.tokenize import Codes
from tests.retrieve.helpers import untrained_text_retriever

NEW = ["new0", "new1"]


def grown(tmp_path):
    _, retriever = untrained_text_retriever()
    table = retriever.table
    bigger = table.extend(NEW, Codes.full(table.item_codes().codes[:2]))
    (tmp_path / "tok").mkdir()
    bigger.save(tmp_path / "tok" / "sid_table")
    return retriever.with_table(bigger), tmp_path / "tok"


def test_assigned_vectors_rank_new_items_only_when_from_the_models_encoder(tmp_path):
    retriever, tok = grown(tmp_path)
    rows = retriever.table.lookup(NEW)
    summed = retriever.backbone.item_matrix()[rows].copy()  # before: the sum of their SID tokens' rows
    vecs = np.random.default_rng(1).normal(size=(2, retriever.model.dim)).astype(np.float32)
    record_assigned_vectors(tok, NEW, vecs, CONTENT, "")  # given with --vectors: of no known encoder
    assert "no known encoder" in apply_assigned_vectors(retriever, tok / "sid_table")
    np.testing.assert_array_equal(retriever.backbone.item_matrix()[rows], summed)
    minilm = str(resolve_model_path("minilm"))
    note = record_assigned_vectors(tok, NEW, vecs, CONTENT, minilm)
    assert "2 earlier assigned items' vectors (content, given) dropped" in note
    assert apply_assigned_vectors(retriever, tok / "sid_table") == ""
    np.testing.assert_array_equal(retriever.backbone.item_matrix()[rows], vecs)
    assert retriever.search(["boat, red"], k=5, beam=4, rank="exact")[0].item_ids  # serves with them
    record_assigned_vectors(tok, NEW, vecs, CONTENT, str(tok))  # another encoder's (an existing folder)
    assert "not the retriever's encoder" in apply_assigned_vectors(retriever, tok / "sid_table")
    record_assigned_vectors(tok, NEW, np.ones((2, 5)), CONTENT, minilm)
    assert "5-d vectors, the retriever reads 384-d" in apply_assigned_vectors(retriever, tok / "sid_table")
    (tok / ASSIGNED_VECTORS).write_bytes(b"PK\x03\x04 cut off")  # a truncated file: said, never a failure
    assert "not a readable assigned-vectors file" in apply_assigned_vectors(retriever, tok / "sid_table")
    assert "replaced" in record_assigned_vectors(tok, NEW, vecs, CONTENT, minilm)
    assert read_assigned_vectors(tok / ASSIGNED_VECTORS)[0].tolist() == NEW


def test_each_assign_adds_to_the_file_and_a_crash_before_the_table_is_harmless(tmp_path):
    retriever, tok = grown(tmp_path)
    minilm, dim = str(resolve_model_path("minilm")), retriever.model.dim
    record_assigned_vectors(tok, NEW[:1], np.ones((1, dim)), CONTENT, minilm)
    assert record_assigned_vectors(tok, NEW[1:], np.full((1, dim), 2.0), CONTENT, minilm) == ""
    ids, vecs, kind, encoder = read_assigned_vectors(tok / ASSIGNED_VECTORS)
    assert ids.tolist() == NEW and vecs[:, 0].tolist() == [1.0, 2.0] and (kind, encoder) == (CONTENT, minilm)
    record_assigned_vectors(tok, ["not-in-the-table-yet"], np.zeros((1, dim)), CONTENT, minilm)
    assert apply_assigned_vectors(retriever, tok / "sid_table") == ""  # an id the table lacks is ignored
    np.testing.assert_array_equal(retriever.backbone.item_matrix()[retriever.table.lookup(NEW)][:, 0], [1.0, 2.0])

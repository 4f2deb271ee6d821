"""Rank "exact": the beam's SIDs are the candidates, their items ordered by query . item vector."""

import numpy as np
import pytest
import torch

from semid.errors import DataError
from semid.retrieve.build import BuildConfig, build_backbone
from semid.retrieve.retriever import Retriever
from semid.sid.table import SIDTable
from semid.tokenize import Codes
from tests.retrieve.helpers import fixed_table, text_dataset, untrained_text_retriever


@pytest.fixture(scope="module")
def untrained():
    return untrained_text_retriever()


def test_exact_rank_orders_the_beams_items_by_their_vectors(untrained):
    _, retriever = untrained
    queries = ["boat, red", "an ancient clock", "tiger"]
    inputs = retriever.encode_inputs(queries)
    res = retriever.generate(inputs, beam=5)
    beam_all = retriever.expand(res, retriever.table.n_items)
    exact = retriever.expand(res, 7, "exact", inputs)
    matrix = retriever.backbone.item_matrix()
    q = np.stack(inputs)
    for b, (candidates, ranked) in enumerate(zip(beam_all, exact, strict=True)):
        rows = retriever.table.lookup(candidates.item_ids)
        want = np.sort(matrix[rows] @ q[b])[::-1][:7]
        assert set(ranked.item_ids) <= set(candidates.item_ids) and len(ranked.item_ids) == 7
        np.testing.assert_allclose(ranked.scores, want, rtol=1e-5)
        assert ranked.n_sids_generated == candidates.n_sids_generated


def test_an_items_own_text_puts_it_first_when_its_sid_is_generated(untrained):
    ds, retriever = untrained
    texts, ids = ds.items["text"].tolist(), ds.items["item_id"].tolist()
    beam, exact = retriever.search(texts, k=200, beam=8), retriever.search(texts, k=1, beam=8, rank="exact")
    generated = [i for i, r in enumerate(beam) if ids[i] in r.item_ids]
    assert len(generated) >= 100  # an untrained model already finds many items' own SIDs
    assert all(exact[i].item_ids == [ids[i]] for i in generated)  # and its SID-mates never outrank it
    # while the beam order (popularity within a shared SID) leaves most of them behind a SID-mate
    assert sum(beam[i].item_ids[0] == ids[i] for i in generated) < 0.5 * len(generated)


def test_exact_rank_survives_save_and_load(untrained, tmp_path):
    _, retriever = untrained
    again = Retriever.load(retriever.save(tmp_path / "art"))
    q = ["lamp, ancient", "river"]
    assert [r.item_ids for r in again.search(q, k=5, rank="exact")] == [
        r.item_ids for r in retriever.search(q, k=5, rank="exact")
    ]


def test_items_added_after_training_are_ranked_by_their_own_vectors(untrained, tmp_path):
    _, retriever = untrained
    table = retriever.table
    # a new item on the SID of "a red boat", with the vector of "a tiny clock"
    codes = table.item_codes()
    row = int(table.lookup(["red-boat"])[0])
    new = table.extend(["new"], Codes(codes.codes[[row]], codes.lengths[[row]]), np.array([1]))
    grown = retriever.with_table(new)
    clock = grown.backbone.item_matrix()[int(table.lookup(["tiny-clock"])[0])]
    assert not np.allclose(grown.backbone.item_matrix()[new.n_items - 1], clock)  # no vector: its SID's rows
    grown.add_item_vectors(["new"], clock[None])
    np.testing.assert_array_equal(grown.backbone.item_matrix()[new.n_items - 1], clock)
    again = Retriever.load(grown.save(tmp_path / "grown"))
    np.testing.assert_array_equal(again.backbone.item_matrix()[new.n_items - 1], clock)
    with pytest.raises(DataError, match=r"item vectors of shape \(1, 3\)"):
        grown.add_item_vectors(["new"], np.zeros((1, 3)))


def test_bad_rank_settings_get_clear_errors(untrained):
    _, retriever = untrained
    with pytest.raises(ValueError, match="rank must be one of beam, exact"):
        retriever.search(["boat"], k=3, rank="dense")
    res = retriever.generate(retriever.encode_inputs(["boat"]), beam=3)
    with pytest.raises(ValueError, match="needs the inputs"):
        retriever.expand(res, 3, "exact")


def test_the_t5_backbone_cannot_rank_exact():
    from semid.retrieve.model import ModelConfig

    ds = text_dataset()
    table: SIDTable = fixed_table(ds, sizes=(8, 8))
    cfg = ModelConfig(d_model=16, d_ff=32, num_layers=1, num_decoder_layers=1, num_heads=2)
    retriever = Retriever(build_backbone(BuildConfig("t5", t5=cfg), ds, table, "text", torch.device("cpu")), table)
    with pytest.raises(DataError, match="rank 'exact' needs item vectors"):
        retriever.search(["boat"], k=3, rank="exact")


def test_retrieve_cli_ranks_exact(untrained, tmp_path):
    import json

    from semid.cli import app
    from tests.helpers import runner

    _, retriever = untrained
    art = retriever.save(tmp_path / "art")
    res = runner.invoke(app, ["retrieve", str(art), "boat, red", "-k", "4", "--rank", "exact"])
    assert res.exit_code == 0, res.output
    line = json.loads(res.stdout.strip().splitlines()[-1])
    assert line["items"] == retriever.search(["boat, red"], k=4, rank="exact")[0].item_ids
    assert line["scores"] == sorted(line["scores"], reverse=True)
    bad = runner.invoke(app, ["retrieve", str(art), "boat", "--rank", "dense"])
    assert bad.exit_code == 2 and "rank must be one of beam, exact" in bad.output


def test_both_orders_from_one_pass_are_what_each_order_gives_alone(untrained):
    _, retriever = untrained
    inputs = retriever.encode_inputs(["boat, red", "an ancient clock", "tiger"])
    res = retriever.generate(inputs, beam=5)
    for k in (7, retriever.table.n_items):  # cut inside the beams' items, and every one of them
        both = retriever.expand_ranks(res, k, ["beam", "exact"], inputs)
        assert both["exact"] != both["beam"]
        for rank in ("beam", "exact"):
            assert both[rank] == retriever.expand(res, k, rank, inputs)

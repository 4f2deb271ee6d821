import json
import shutil

import numpy as np
import pytest

from semid.assigned_vectors import ASSIGNED_VECTORS, read_assigned_vectors
from semid.errors import DataError
from semid.pipeline import assign_new_items, check_same_encoder
from semid.sid import SIDTable
from tests.helpers import clustered, make_dataset, tokenize, write_new_items


@pytest.mark.parametrize("method", [["rq_kmeans"], ["sa2crq"], ["sa2crq", "--tail-depth", "head_tables"]])
def test_assign_adds_items_and_keeps_existing_sids(tmp_path, method):
    ds = make_dataset(tmp_path)
    tokenize(ds, tmp_path / "tok", "8,8,8", "--method", *method)
    if method[0] == "sa2crq":  # the rule the flag chose (default: the new one) is the saved tokenizer's
        saved = json.loads((tmp_path / "tok" / "tokenizer" / "config.json").read_text())["config"]
        assert saved["tail_depth"] == (method[-1] if len(method) > 1 else "catalogue")
    before = SIDTable.load(tmp_path / "tok" / "sid_table")
    new_items = write_new_items(tmp_path, clustered(20, 8, 12, seed=5))
    out = assign_new_items(tmp_path / "tok", tmp_path / "new.jsonl", tmp_path / "new.npy")
    after = SIDTable.load(tmp_path / "tok" / "sid_table")
    assert out.n_new == 20 and after.n_items == before.n_items + 20
    assert after.item_ids.to_pylist()[: before.n_items] == before.item_ids.to_pylist()
    assert after.item_codes().to_lists()[: before.n_items] == before.item_codes().to_lists()
    rows = after.lookup([f"new{k}" for k in range(20)])
    assert (rows >= before.n_items).all()
    with pytest.raises(DataError, match="already in the SID table"):
        assign_new_items(tmp_path / "tok", tmp_path / "new.jsonl", tmp_path / "new.npy")
    np.save(tmp_path / "bad.npy", np.ones((20, 5), dtype=np.float32))
    (tmp_path / "new2.jsonl").write_text(
        "".join(json.dumps({**r, "item_id": r["item_id"] + "b"}) + "\n" for r in new_items)
    )
    with pytest.raises(DataError, match="dimension mismatch"):
        assign_new_items(tmp_path / "tok", tmp_path / "new2.jsonl", tmp_path / "bad.npy")
    assert SIDTable.load(tmp_path / "tok" / "sid_table").n_items == after.n_items  # a failed assign changes nothing


def test_dedup_tokens_make_sids_unique_and_survive_assign(tmp_path):
    ds = make_dataset(tmp_path)
    tokenize(ds, tmp_path / "tok", "4,4", "--method", "sa2crq", "--quantizer", "rq_vae", "--epochs", "2")
    assert (tmp_path / "tok" / "checkpoint" / "last.safetensors").exists()  # never a pickle
    tokenize(ds, tmp_path / "dd", "4,4", "--dedup")
    table = SIDTable.load(tmp_path / "dd" / "sid_table")
    assert table.n_sids == table.n_items == 300 and table.n_layers == 3
    write_new_items(tmp_path, clustered(30, 8, 12, seed=5))
    assign_new_items(tmp_path / "dd", tmp_path / "new.jsonl", tmp_path / "new.npy")
    grown = SIDTable.load(tmp_path / "dd" / "sid_table")
    assert grown.n_sids == grown.n_items == 330
    assert grown.item_codes().to_lists()[:300] == table.item_codes().to_lists()


def test_assign_keeps_the_dedup_layer_unless_asked_to_grow_it(tmp_path):
    ds = make_dataset(tmp_path)
    tokenize(ds, tmp_path / "dd", "4,4", "--dedup")
    shutil.copytree(tmp_path / "dd", tmp_path / "kept")
    table = SIDTable.load(tmp_path / "dd" / "sid_table")
    n_new = table.codebook_sizes[-1] + 5  # one group gets more items than the dedup layer has codes
    write_new_items(tmp_path, np.repeat(np.load(tmp_path / "vecs.npy")[:1], n_new, axis=0), text="same")
    # by default the vocabulary a retriever was trained on stays: the overflow shares the last dedup code
    kept = assign_new_items(tmp_path / "kept", tmp_path / "new.jsonl", tmp_path / "new.npy").table
    assert kept.codebook_sizes == table.codebook_sizes and kept.n_items == table.n_items + n_new
    assert kept.n_sids < kept.n_items and kept.item_codes().to_lists()[:300] == table.item_codes().to_lists()
    assign_new_items(tmp_path / "dd", tmp_path / "new.jsonl", tmp_path / "new.npy", grow_dedup=True)
    grown = SIDTable.load(tmp_path / "dd" / "sid_table")
    assert grown.n_sids == grown.n_items == table.n_items + n_new
    assert grown.codebook_sizes[-1] > table.codebook_sizes[-1]
    assert grown.codebook_sizes[:-1] == table.codebook_sizes[:-1]


def test_tokenize_never_silently_replaces_a_table_in_its_out_folder(tmp_path):
    """A second `semid tokenize` into the same --out would refit and drop the items `semid assign` added."""
    from semid.cli import app
    from tests.helpers import runner

    ds = make_dataset(tmp_path)
    tokenize(ds, tmp_path / "tok", "8,8")
    write_new_items(tmp_path, clustered(5, 8, 12, seed=5))
    assign_new_items(tmp_path / "tok", tmp_path / "new.jsonl", tmp_path / "new.npy")
    ids, vecs, kind, encoder = read_assigned_vectors(tmp_path / "tok" / ASSIGNED_VECTORS)  # kept for retrievers
    assert len(ids) == 5 and vecs.shape == (5, 8) and (kind, encoder) == ("content", "")  # --vectors: no encoder
    tokenizer_before = (tmp_path / "tok" / "tokenizer" / "tensors.safetensors").read_bytes()
    args = ["tokenize", str(ds), "--vectors", str(tmp_path / "vecs.npy"), "--out", str(tmp_path / "tok")]
    res = runner.invoke(app, [*args, "--codebook-sizes", "4,4"])
    assert res.exit_code == 2, res.output
    assert "already holds a SID table (305 items)" in res.output and "--overwrite" in res.output
    assert SIDTable.load(tmp_path / "tok" / "sid_table").n_items == 305  # the assigned items are still there
    assert (tmp_path / "tok" / "tokenizer" / "tensors.safetensors").read_bytes() == tokenizer_before
    res = runner.invoke(app, [*args, "--codebook-sizes", "4,4", "--overwrite"])
    assert res.exit_code == 0, res.output
    table = SIDTable.load(tmp_path / "tok" / "sid_table")
    assert table.n_items == 300 and list(table.codebook_sizes) == [4, 4]
    assert not (tmp_path / "tok" / ASSIGNED_VECTORS).exists()  # the refit dropped the assigned items


def test_assign_refuses_another_text_encoder_than_the_tables(tmp_path):
    from semid.data.provenance import record_vectors_identity
    from semid.embed.encoder import resolve_model_path
    from semid.pipeline import tokenize_dataset

    ds = make_dataset(tmp_path)
    np.save(ds / "item_vectors.npy", np.load(tmp_path / "vecs.npy"))
    other = tmp_path / "other-encoder"
    other.mkdir()
    (ds / "item_vectors.json").write_text(json.dumps({"model": str(other)}))  # as `semid embed --model` writes
    record_vectors_identity(ds)
    tokenize_dataset(ds, tmp_path / "tok", "rq_kmeans", codebook_sizes=[4, 4], show_progress=False)
    assert json.loads((tmp_path / "tok" / "tokenize.json").read_text())["encoder"] == str(other)
    write_new_items(tmp_path, clustered(5, 8, 12, seed=5))
    with pytest.raises(DataError, match=f"fitted on vectors from {other}.*pass --model"):
        assign_new_items(tmp_path / "tok", tmp_path / "new.jsonl")  # would embed with the bundled MiniLM
    assert SIDTable.load(tmp_path / "tok" / "sid_table").n_items == 300  # nothing written
    check_same_encoder(str(resolve_model_path("minilm")), resolve_model_path("minilm"), tmp_path)  # the same: fine
    check_same_encoder(str(tmp_path / "moved-away"), resolve_model_path("minilm"), tmp_path)  # gone: unchecked

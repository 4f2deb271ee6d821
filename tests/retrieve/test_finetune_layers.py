"""`finetune_layers`: MiniLM's top N layers train with the decoder over its frozen bottom layers' token states,
which are computed once per text; the fine-tuned layers (only those) survive save and load; rank "exact" keeps
the frozen query vector."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from semid.embed.encoder import EncoderConfig, TextEncoder
from semid.errors import DataError
from semid.retrieve.build import BuildConfig, build_backbone
from semid.retrieve.query_layers import BottomLayers
from semid.retrieve.retriever import Retriever
from semid.retrieve.sid_model import SIDModelConfig
from semid.retrieve.train import TrainConfig, fit_retriever
from tests.retrieve.helpers import fixed_table, text_dataset
from tests.retrieve.test_history_model import cycle_dataset, table_of

N_TOP = 2
QUERIES = ["boat, red", "an ancient clock", "tiger"]


def _build(n: int) -> BuildConfig:
    return BuildConfig(minilm=SIDModelConfig(d_model=32, decoder_layers=1, finetune_layers=n))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(retriever folder, retriever, texts run through the frozen bottom layers) after 2 epochs with N_TOP."""
    ds = text_dataset()
    table = fixed_table(ds, sizes=(8, 8))
    seen: list[str] = []
    original = BottomLayers._batch

    def counting(self, texts):
        seen.extend(texts)
        return original(self, texts)

    cfg = TrainConfig(epochs=2, batch_size=64, warmup_steps=1, eval_queries=1, show_progress=False, device="cpu")
    out = tmp_path_factory.mktemp("finetune") / "art"
    torch.manual_seed(0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BottomLayers, "_batch", counting)
        retriever, _ = fit_retriever(ds, table, _build(N_TOP), cfg, out)
    return out, retriever, seen


def fresh_minilm():
    return TextEncoder(EncoderConfig(use_cache=False)).sentence_transformer()


def _layer_state(layer: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in layer.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_top_layers_train_and_the_encoder_itself_stays_as_shipped(trained):
    _, retriever, _ = trained
    used, shipped = retriever.backbone.text_encoder().sentence_transformer(), fresh_minilm()
    assert _same(used.state_dict(), shipped.state_dict())  # bottom layers (and the frozen copy of the top) untouched
    layers = shipped[0].auto_model.encoder.layer
    tuned = retriever.model.query_top.layers
    assert len(tuned) == N_TOP
    for mine, original in zip(tuned, layers[len(layers) - N_TOP :], strict=True):
        assert not _same(_layer_state(mine), _layer_state(original))


def test_each_training_text_runs_through_the_frozen_layers_once_over_two_epochs(trained):
    _, _, seen = trained
    ds = text_dataset()
    expected = [*ds.split("train")["query"], *ds.items["text"], *ds.split("valid")["query"]]
    assert sorted(seen) == sorted(expected)


def test_an_untrained_split_encoder_gives_the_frozen_encoders_vector():
    ds = text_dataset()
    backbone = build_backbone(_build(6), ds, fixed_table(ds, (8, 8)), "text", torch.device("cpu"), False)
    x, mask = backbone.model_inputs(backbone.encode(QUERIES, None), torch.device("cpu"))
    backbone.model.eval()
    with torch.no_grad():
        query = backbone.model.encode(x, mask)[2].numpy()
    np.testing.assert_allclose(query, backbone.embed(QUERIES), atol=2e-3)  # float16 states


def test_save_and_load_keep_the_fine_tuned_layers_and_the_answers(trained):
    out, retriever, _ = trained
    again = Retriever.load(out, device="cpu")
    for rank in ("beam", "exact"):
        want, got = retriever.search(QUERIES, k=5, rank=rank), again.search(QUERIES, k=5, rank=rank)
        assert [r.item_ids for r in got] == [r.item_ids for r in want]
        np.testing.assert_allclose([r.scores for r in got], [r.scores for r in want], rtol=1e-5)
    saved = load_file(str(out / "model" / "model.safetensors"))
    encoder_keys = {k for k in saved if k.startswith("query_top.")}
    assert encoder_keys == {f"query_top.{k}" for k in retriever.model.query_top.state_dict()}
    assert not any("embeddings" in k for k in encoder_keys)  # the top layers only, not the whole MiniLM
    assert json.loads((out / "retriever.json").read_text())["model_config"]["finetune_layers"] == N_TOP


def test_exact_rank_compares_the_frozen_query_vector_with_the_frozen_item_vectors(trained):
    _, retriever, _ = trained
    backbone = retriever.backbone
    inputs = retriever.encode_inputs(QUERIES)
    frozen = backbone.query_vectors(inputs)
    np.testing.assert_allclose(frozen, backbone.embed(QUERIES), atol=2e-3)
    with torch.no_grad():
        tuned = retriever.model.encode(*backbone.model_inputs(inputs, torch.device("cpu")))[2].numpy()
    assert np.abs(tuned - frozen).max() > 1e-3  # training moved the decoder's query vector, not exact ranking's
    res = retriever.generate(inputs, beam=5)
    matrix = backbone.item_matrix()
    for b, ranked in enumerate(retriever.expand(res, 5, "exact", inputs)):
        rows = retriever.table.lookup(ranked.item_ids)
        np.testing.assert_allclose(ranked.scores, matrix[rows] @ frozen[b], rtol=1e-5)


def test_without_fine_tuning_the_config_and_weights_are_as_before():
    ds = text_dataset()
    backbone = build_backbone(BuildConfig(), ds, fixed_table(ds, (8, 8)), "text", torch.device("cpu"), False)
    assert "finetune_layers" not in backbone.config()  # retriever.json and checkpoints as before the option
    assert not any(k.startswith("query_top") for k in backbone.model.state_dict())
    assert isinstance(backbone.encode(["boat"], None)[0], np.ndarray) and backbone.encode(["boat"], None)[0].ndim == 1


@pytest.mark.parametrize("n", [-1, 7])
def test_a_layer_count_the_encoder_does_not_have_is_refused(n):
    ds = text_dataset()
    with pytest.raises(ValueError, match=r"finetune_layers \(--finetune-layers\)"):
        build_backbone(_build(n), ds, fixed_table(ds, (8, 8)), "text", torch.device("cpu"), False)


def test_fine_tuning_needs_text_queries_and_the_minilm_backbone():
    ds = cycle_dataset()
    cfg = TrainConfig(epochs=1, eval_queries=0, show_progress=False, device="cpu")
    with pytest.raises(DataError, match=r"finetune_layers.*histories"):
        fit_retriever(ds, table_of(ds), _build(1), cfg)
    text = text_dataset()
    with pytest.raises(DataError, match=r"finetune_layers.*minilm backbone"):
        build_backbone(BuildConfig("t5", _build(1).minilm), text, fixed_table(text), "text", torch.device("cpu"), False)


def test_the_fine_tuned_layers_learn_at_their_own_rate(trained):
    from semid.retrieve.train import _param_groups

    _, retriever, _ = trained
    model = retriever.model
    groups = _param_groups(model, TrainConfig(lr=1e-3, finetune_lr=5e-5))
    top = {id(p) for p in model.query_top.parameters()}
    assert {id(p) for p in groups[1]["params"]} == top and groups[1]["lr"] == 5e-5
    assert sorted(id(p) for g in groups for p in g["params"]) == sorted(id(p) for p in model.parameters())


def test_semid_train_fine_tunes_on_request_and_semid_retrieve_answers_with_it(tmp_path):
    from semid.cli import app
    from tests.helpers import make_dataset, runner, tokenize

    ds = make_dataset(tmp_path, n=30)
    tok = tokenize(ds, tmp_path / "tok", "4,4")
    args = ["train", str(ds), str(tok), "--out", str(tmp_path / "art"), "--epochs", "1", "--d-model", "32"]
    refused = runner.invoke(app, [*args, "--finetune-layers", "7"])
    assert refused.exit_code == 2 and "--finetune-layers) must be between 0 and 6" in refused.output
    assert runner.invoke(app, [*args, "--finetune-layers", "1", "--eval-queries", "0"]).exit_code == 0
    saved = json.loads((tmp_path / "art" / "retriever.json").read_text())["model_config"]
    assert saved["finetune_layers"] == 1
    res = runner.invoke(app, ["retrieve", str(tmp_path / "art"), "find 3", "-k", "2", "--rank", "exact"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout.splitlines()[-1])["items"]) == 2

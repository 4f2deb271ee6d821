"""A history longer than the model reads is cut by the backbone; `semid retrieve` and the server say so."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fastapi.testclient import TestClient

from semid.cli import app
from semid.retrieve.backbones import MiniLMBackbone
from semid.retrieve.retriever import Retriever
from semid.retrieve.sid_model import SIDModel, SIDModelConfig
from semid.retrieve.t5_backbone import T5Backbone
from semid.retrieve.vocab import SIDVocab
from semid.serve import BatchConfig, ServeConfig, create_app
from tests.helpers import runner

# per backbone: (a history the model reads whole, one it cuts, what the warning names)
CASES = {
    "minilm": (["i0", "i1", "i2"], ["i0", "i1", "i2", "i3", "i4"], "3 (max_history)"),
    "t5": (["i0"], ["i0", "i1"], "8 (max_input_tokens)"),  # 5 SID tokens per item (4 codes + EOS)
}


@pytest.fixture(scope="module")
def history_models(tiny, tmp_path_factory):
    """The tiny catalogue's history retrievers with short inputs, saved: backbone name -> artifact folder."""
    _, text_model, _ = tiny
    table, b = text_model.table, text_model.backbone
    vocab = SIDVocab(0, tuple(table.codebook_sizes))
    sid_model = SIDModel(SIDModelConfig(d_model=16, decoder_layers=1, max_history=3), vocab, 8, "history")
    t5 = T5Backbone(b.model, b.table, b.vocab, dataclasses.replace(b.cfg, max_input_tokens=8), "history")
    root = tmp_path_factory.mktemp("history_models")
    models = {"minilm": Retriever(MiniLMBackbone(sid_model, table), table), "t5": Retriever(t5, table)}
    return {name: ret.save(root / name) for name, ret in models.items()}


@pytest.mark.parametrize("backbone", list(CASES))
def test_retrieve_warns_once_when_a_history_is_cut(history_models, backbone):
    whole, cut, limit = CASES[backbone]
    res = runner.invoke(app, ["retrieve", str(history_models[backbone]), "--history", ",".join(cut), "-k", "2"])
    assert res.exit_code == 0, res.output
    assert res.output.count("warning:") == 1 and "1 of 1 history is longer than this model reads" in res.output
    assert f"only the most recent {limit.split()[0]} " in res.output and limit.split()[1] in res.output
    assert len(json.loads(res.output.strip().splitlines()[-1])["items"]) == 2
    res = runner.invoke(app, ["retrieve", str(history_models[backbone]), "--history", ",".join(whole), "-k", "2"])
    assert res.exit_code == 0 and "warning" not in res.output, res.output


@pytest.mark.parametrize("backbone", list(CASES))
def test_search_answer_lists_a_cut_history_in_its_warnings(history_models, backbone):
    whole, cut, limit = CASES[backbone]
    retriever = Retriever.load(history_models[backbone], device="cpu")
    with TestClient(create_app(retriever, ServeConfig(batch=BatchConfig(beam=4)))) as client:
        r = client.post("/search", json={"history": cut, "k": 2})
        assert r.status_code == 200, r.text
        (warning,) = r.json()["warnings"]
        assert "this model reads only the most recent " + limit in warning and "older ones were ignored" in warning
        r = client.post("/search", json={"history": whole, "k": 2})
        assert r.status_code == 200 and r.json()["warnings"] == [], r.text

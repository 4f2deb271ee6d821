"""`--pretrained`: a local T5 checkpoint reads text with its own tokenizer, and the artifact keeps a copy."""

import shutil

import pytest
import torch

from semid.embed.encoder import default_model_path
from semid.errors import MissingResourceError
from semid.retrieve.build import BuildConfig, build_backbone
from semid.retrieve.model import ModelConfig
from semid.retrieve.retriever import Retriever
from tests.retrieve.helpers import fixed_table, text_dataset

EXTRA = [f"[tok{i}]" for i in range(7)]  # so that the checkpoint's vocabulary is not MiniLM's


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    folder = tmp_path_factory.mktemp("t5-pretrained")
    tok = AutoTokenizer.from_pretrained(str(default_model_path()))
    tok.add_tokens(EXTRA)
    tok.save_pretrained(folder)
    config = T5Config(vocab_size=len(tok), d_model=32, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder, len(tok)


def test_pretrained_checkpoint_uses_its_own_tokenizer_and_the_artifact_keeps_it(checkpoint, tmp_path):
    folder, n_text = checkpoint
    ds = text_dataset()
    table = fixed_table(ds, sizes=(8, 8))
    torch.manual_seed(0)
    backbone = build_backbone(
        BuildConfig("t5", t5=ModelConfig(pretrained=str(folder))), ds, table, "text", torch.device("cpu"), False
    )
    assert backbone.vocab.base == n_text  # SID tokens after the checkpoint's vocabulary, not MiniLM's
    assert backbone.inputs.tok.convert_tokens_to_ids(EXTRA[0]) == n_text - len(EXTRA)
    retriever = Retriever(backbone, table)
    before = retriever.search(["boat, red [tok0]"], k=5, beam=8)[0].item_ids
    retriever.save(tmp_path / "art")
    moved = tmp_path / "gone"
    shutil.move(str(folder), moved)  # the artifact no longer needs the checkpoint folder
    try:
        loaded = Retriever.load(tmp_path / "art")
        assert loaded.backbone.vocab.base == n_text
        assert loaded.search(["boat, red [tok0]"], k=5, beam=8)[0].item_ids == before
    finally:
        shutil.move(str(moved), folder)


def test_a_checkpoint_without_tokenizer_files_is_named(tmp_path):
    from transformers import T5Config, T5ForConditionalGeneration

    T5ForConditionalGeneration(T5Config(d_model=16, d_ff=32, num_layers=1, num_heads=2)).save_pretrained(tmp_path)
    ds = text_dataset()
    with pytest.raises(MissingResourceError, match="no tokenizer files"):
        build_backbone(
            BuildConfig("t5", t5=ModelConfig(pretrained=str(tmp_path))),
            ds,
            fixed_table(ds, sizes=(8, 8)),
            "text",
            torch.device("cpu"),
            False,
        )

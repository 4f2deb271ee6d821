from __future__ import annotations

import json

import pytest
import torch

from semid.embed.encoder import default_model_path
from semid.export import ExportConfig, export_hf, load_hf_export


@pytest.fixture(scope="module")
def exported(catalogue, tmp_path_factory):
    _, ds, tok, _ = catalogue
    out = tmp_path_factory.mktemp("gen") / "export"
    export_hf(tok, ds, out, ExportConfig(base_tokenizer=str(default_model_path())))
    return out, load_hf_export(out)


def tiny_llama(vocab_size: int, seed: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
    )
    return LlamaForCausalLM(cfg).eval()


def prompts(out, tokenizer, n=4):
    lines = (out / "sft" / "valid.jsonl").read_text().splitlines()[:n]
    texts = [json.loads(line)["messages"][0]["content"] for line in lines]
    tokenizer.padding_side = "left"
    return tokenizer(texts, return_tensors="pt", padding=True, return_token_type_ids=False)


def generate(sids, model, batch, constrained: bool, **kwargs):
    from transformers import LogitsProcessorList

    prompt_length = batch["input_ids"].shape[1]
    processors = LogitsProcessorList([sids.constraint(prompt_length)] if constrained else [])
    out = model.generate(
        **batch,
        logits_processor=processors,
        max_new_tokens=sids.max_new_tokens,
        eos_token_id=sids.vocab.eos,
        pad_token_id=sids.tokenizer.pad_token_id,
        **kwargs,
    )
    return sids.read_generated(out, prompt_length)


def test_constrained_generation_on_random_models_only_yields_real_sids(exported):
    out, sids = exported
    batch = prompts(out, sids.tokenizer)
    answers = []
    for seed in range(12):
        model = tiny_llama(len(sids.tokenizer), seed)
        answers += generate(sids, model, batch, True, do_sample=True, num_return_sequences=6, temperature=3.0)
        answers += generate(sids, model, batch, True, do_sample=False, num_beams=4, num_return_sequences=4)
    assert len(answers) == 12 * 4 * (6 + 4)
    assert [a.problem for a in answers if not a.is_real] == []
    assert all(a.item_ids for a in answers)
    assert len({a.sid for a in answers}) > 20  # the samples explore the trie, not one SID
    assert len({a.sid.count("><") for a in answers}) > 1  # ...and SIDs of different lengths


def test_unconstrained_generation_is_read_back_with_its_problems(exported):
    out, sids = exported
    answers = generate(sids, tiny_llama(len(sids.tokenizer), 0), prompts(out, sids.tokenizer), False, do_sample=True)
    assert answers and all(a.problem and a.item_ids == [] for a in answers)  # a random LM over 30k tokens

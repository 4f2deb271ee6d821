"""SIDs for any LLM, end to end in seconds on a CPU: `semid export hf`, then a causal LM generating SIDs.

    python examples/export_hf_tiny.py                       # a tiny synthetic catalogue, in a temporary folder
    python examples/export_hf_tiny.py TOKENIZE_DIR DATA_DIR  # your `semid tokenize` folder and its dataset

1. export the SID table with the dataset's items and queries (as `semid export hf TOKENIZE_DIR --data DATA_DIR
   --base-tokenizer MINILM --out DIR`), adding the SID tokens to the MiniLM tokenizer bundled with semid;
2. build a tiny random Llama from a config, sized to that tokenizer (a real run fine-tunes your own LLM on
   DIR/sft/train.jsonl first; untrained, it answers at random, but only with real SIDs);
3. generate with the SID-trie constraint and map each generated SID back to item ids.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessorList

from semid.data import build_dataset, save_dataset
from semid.embed.encoder import default_model_path
from semid.export import ExportConfig, GeneratedSID, export_hf, load_hf_export
from semid.pipeline import tokenize_dataset

WORDS = ["castle", "river", "violin", "rocket", "garden", "tiger", "island", "lantern", "glacier", "meadow"]


def tiny_catalogue(folder: Path) -> tuple[Path, Path]:
    """60 items in 6 themes, text and history query records, their adaptive SIDs (up to 3 layers of 8 codes):
    (tokenize folder, dataset folder)."""
    rng = np.random.default_rng(0)
    items = pd.DataFrame(
        {
            "item_id": [f"item{k}" for k in range(60)],
            "text": [f"a {WORDS[k % 6]} story, part {k // 6}" for k in range(60)],
            "popularity": [100 - k for k in range(60)],
        }
    )
    queries = pd.DataFrame(
        {
            "query_id": [f"q{k}" for k in range(80)],
            "split": ["train"] * 60 + ["valid"] * 10 + ["test"] * 10,
            "query": [f"the {WORDS[k % 6]}" if k % 2 else "" for k in range(80)],
            "history": [[f"item{j}" for j in rng.integers(0, 60, size=3)] for _ in range(80)],
            "target": [f"item{k % 60}" for k in range(80)],
        }
    )
    data_dir = save_dataset(build_dataset("tiny", items, queries), folder / "data")
    themes = np.eye(6, 16)[np.arange(60) % 6]  # items of a theme get nearby vectors, so they share SID prefixes
    np.save(folder / "vectors.npy", (themes + 0.1 * rng.normal(size=(60, 16))).astype(np.float32))
    tokenize_dataset(  # SARQ: adaptive SIDs, shorter for rarer prefixes
        data_dir,
        folder / "sids",
        "sarq",
        folder / "vectors.npy",
        codebook_sizes=[8, 8, 8],
        min_items=4,
        show_progress=False,
    )
    return folder / "sids", data_dir


def generate_sids(export_dir: Path, n_prompts: int = 3, n_answers: int = 4) -> list[list[GeneratedSID]]:
    """The first valid prompts of the export, answered by a tiny random Llama: `n_answers` sampled SIDs each."""
    sids = load_hf_export(export_dir)
    records = [json.loads(line) for line in (export_dir / "sft" / "valid.jsonl").read_text().splitlines()]
    prompts = [r["messages"][0]["content"] for r in records[:n_prompts]]
    tok = sids.tokenizer
    tok.padding_side = "left"  # a causal LM continues the prompt: pad on the left
    batch = tok(prompts, return_tensors="pt", padding=True, return_token_type_ids=False)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),  # text tokens + the SID tokens (resize_token_embeddings for a pretrained model)
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
    )
    model = LlamaForCausalLM(config).eval()
    prompt_length = batch["input_ids"].shape[1]
    out = model.generate(
        **batch,
        logits_processor=LogitsProcessorList([sids.constraint(prompt_length)]),
        max_new_tokens=sids.max_new_tokens,  # the SID's layers and <sid_end>
        eos_token_id=sids.vocab.eos,  # <sid_end> ends the answer
        pad_token_id=tok.pad_token_id,
        do_sample=True,
        num_return_sequences=n_answers,
    )
    answers = sids.read_generated(out, prompt_length)
    return [answers[i * n_answers : (i + 1) * n_answers] for i in range(len(prompts))]


def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="semid-export-example-") as tmp:
        work = Path(tmp)
        tokenize_dir, data_dir = (Path(argv[0]), Path(argv[1])) if len(argv) == 2 else tiny_catalogue(work)
        res = export_hf(tokenize_dir, data_dir, work / "export", ExportConfig(base_tokenizer=str(default_model_path())))
        lines = {split: sum(tasks.values()) for split, tasks in res.sft.lines.items()}
        print(f"exported {res.n_items} items, {res.n_sids} SIDs, SFT lines {lines}")
        for n, answers in enumerate(generate_sids(res.out)):
            print(f"prompt {n}:")
            for a in answers:
                print(f"  {a.sid} -> {a.item_ids if a.is_real else a.problem}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""`semid export hf`: a SID table and a dataset as tokenizer tokens and fine-tuning data for any LLM."""

from __future__ import annotations

from pathlib import Path

import typer

from semid.cli.common import console, warnings_shown


def hf(
    tokenize_dir: Path = typer.Argument(..., help="a `semid tokenize` output folder (its sid_table/ is exported)"),
    data: Path = typer.Option(..., "--data", help="the dataset folder whose items and queries make the SFT data"),
    out: Path = typer.Option(..., "--out", help="folder for tokenizer/, item_sids.jsonl, sft/ and the rest"),
    base_tokenizer: Path | None = typer.Option(
        None, help="local tokenizer folder of your LLM to add the SID tokens to (default: a SID-only tokenizer)"
    ),
    max_history: int = typer.Option(20, help="most recent history items listed in a prompt"),
    overwrite: bool = typer.Option(False, help="replace --out if it is not empty"),
) -> None:
    """Export SIDs for any Hugging Face LLM: SID tokens, the item <-> SID table and chat-format SFT JSONL."""
    from semid.export import ExportConfig, export_hf

    cfg = ExportConfig(str(base_tokenizer) if base_tokenizer else None, max_history, overwrite)
    with warnings_shown(console):
        res = export_hf(tokenize_dir, data, out, cfg)
    lines = {split: sum(tasks.values()) for split, tasks in res.sft.lines.items()}
    console.print(
        f"{res.n_items:,} items, {res.n_sids:,} SIDs; tokenizer of {res.tokenizer_size:,} tokens "
        f"(SID tokens from id {res.first_sid_token_id:,}); SFT lines "
        + ", ".join(f"{split} {n:,}" for split, n in lines.items())
        + f" -> {out}"
    )
    if res.sft.histories_cut:
        console.print(f"{res.sft.histories_cut:,} histories longer than --max-history {max_history}: oldest items cut")

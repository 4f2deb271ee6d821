"""`semid export hf`: a SID table as what any Hugging Face LLM needs to learn it, written into one folder:

- ``tokenizer/``: a tokenizer with the SID tokens added (semid.export.sid_text names them), after the tokens
  of the base tokenizer given (your LLM's), with consecutive ids; without one, a tokenizer of the SID tokens
  only (plus ``<pad>`` and ``<unk>``): enough to write and read SIDs and to train a SID-only model.
  The SID tokens are ordinary added tokens, not special ones, so ``decode(..., skip_special_tokens=True)``
  keeps them.
- ``sid_tokens.json``: the SID tokens in id order, to add to another tokenizer yourself.
- ``item_sids.jsonl``: ``{"item_id", "sid"}`` per item of the table, in trie order (a SID's items most popular
  first).
- ``sid_table/``: the SID table itself (semid.export.loader reads it for the trie constraint).
- ``sft/{train,valid,test}.jsonl``: fine-tuning records (semid.export.sft).
- ``export.json``: what was exported from where, the prompts, and the line counts.

The folder is built aside and swapped in whole (semid.files.replace_folder).
"""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from semid.data.format import load_dataset
from semid.errors import DataError, MissingResourceError, SemidWarning
from semid.export.sft import PROMPTS, SFTCounts, write_sft
from semid.export.sid_text import SID_END, sid_string, sid_token_names
from semid.files import TABLE_DIR, TOKENIZER_DIR, check_out_dir, current_umask, replace_folder
from semid.pipeline import resolve_table_dir
from semid.retrieve.model import load_text_tokenizer
from semid.sid.store import table_version
from semid.sid.table import SIDTable

EXPORT_META = "export.json"
SID_TOKENS_FILE = "sid_tokens.json"
ITEM_SIDS_FILE = "item_sids.jsonl"
SFT_DIR = "sft"


@dataclass
class ExportConfig:
    base_tokenizer: str | None = None  # local Hugging Face tokenizer folder (your LLM's); None: SID tokens only
    max_history: int = 20  # most recent history items kept in a prompt
    overwrite: bool = False  # replace a non-empty output folder


@dataclass
class ExportResult:
    out: Path
    n_items: int
    n_sids: int
    first_sid_token_id: int  # id of <sid_end>; the codes follow it
    tokenizer_size: int
    sft: SFTCounts
    table_items_without_text: int  # table items not in the dataset (no text): in item_sids.jsonl only


def sid_only_tokenizer() -> Any:
    """A word-level tokenizer with just ``<pad>`` (0) and ``<unk>`` (1), for the SID tokens to be added to."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({"<pad>": 0, "<unk>": 1}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>")


def load_base_tokenizer(path: str) -> Any:
    """The tokenizer in a local folder; DataError when the folder holds none."""
    try:
        return load_text_tokenizer(path)
    except MissingResourceError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(f"not a Hugging Face tokenizer folder: {exc}", source=path) from None


def add_sid_tokens(tokenizer: Any, names: list[str]) -> int:
    """Add the SID tokens to `tokenizer` (in place); the id of the first one. DataError when the tokenizer
    already knows one of them (was it exported before?) or does not give them consecutive ids."""
    vocab = tokenizer.get_vocab()
    known = [name for name in names if name in vocab]
    if known:
        raise DataError(
            f"the base tokenizer already has the SID token {known[0]!r} ({len(known)} of them); "
            "pass the tokenizer as it was before any SID tokens were added",
            source="--base-tokenizer",
        )
    first = len(tokenizer)
    tokenizer.add_tokens(names)
    ids = tokenizer.convert_tokens_to_ids(names)
    if ids != list(range(first, first + len(names))):
        raise DataError("the SID tokens did not get consecutive ids after the base vocabulary", source="tokenizer")
    return first


def _load_table(tokenize_dir: Path) -> SIDTable:
    table_dir = resolve_table_dir(tokenize_dir)
    if not tokenize_dir.is_dir():
        raise MissingResourceError(f"{tokenize_dir}: no such folder; make one with `semid tokenize DATA --out ...`")
    if table_version(table_dir) is None:
        raise MissingResourceError(
            f"{tokenize_dir}: no SID table here (no {TABLE_DIR}/); is it a `semid tokenize` folder?"
        )
    return SIDTable.load(table_dir)


def _check_out(out: Path, inputs: list[Path], overwrite: bool) -> None:
    check_out_dir(out)
    resolved = out.resolve()
    for src in inputs:
        if resolved == src.resolve() or src.resolve() in resolved.parents or resolved in src.resolve().parents:
            raise DataError(f"the output folder overlaps the input {src}; write somewhere else", source=str(out))
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise DataError("the output folder is not empty; pass --overwrite to replace it", source=str(out))


def export_hf(tokenize_dir: str | Path, data_dir: str | Path, out: str | Path, cfg: ExportConfig) -> ExportResult:
    """Export the SID table of a `semid tokenize` folder with the items and queries of a dataset folder."""
    tokenize_dir, data_dir, out = Path(tokenize_dir), Path(data_dir), Path(out)
    _check_out(out, [tokenize_dir, data_dir], cfg.overwrite)
    if cfg.max_history < 1:
        raise DataError(f"must be >= 1, got {cfg.max_history}", source="--max-history")
    table = _load_table(tokenize_dir)
    ds = load_dataset(data_dir)
    ds_ids = pa.array(ds.items["item_id"].tolist(), type=pa.string())
    missing = pc.invert(pc.is_in(ds_ids, value_set=table.item_ids)).to_numpy(zero_copy_only=False)
    if missing.any():
        first = ds_ids[int(missing.argmax())].as_py()
        raise DataError(
            f"{int(missing.sum()):,} of the dataset's {len(ds_ids):,} items have no SID in {tokenize_dir}, "
            f"the first {first!r}: was the table made from another dataset? (`semid assign` adds new items)",
            source=str(data_dir),
        )
    extra = table.n_items - len(ds_ids)
    if extra:
        warnings.warn(
            f"{extra:,} items of the SID table are not in {data_dir}: they are in {ITEM_SIDS_FILE} but, with no "
            "text, in no fine-tuning record",
            SemidWarning,
            stacklevel=2,
        )

    names = sid_token_names(table.codebook_sizes)
    tokenizer = load_base_tokenizer(cfg.base_tokenizer) if cfg.base_tokenizer else sid_only_tokenizer()
    first_id = add_sid_tokens(tokenizer, names)
    codes = table.sid_code_matrix()
    sid_texts = [sid_string(row[:n]) for row, n in zip(codes.codes.tolist(), codes.lengths.tolist(), strict=True)]
    item_ids = table.item_ids.to_pylist()
    item_sid = table.item_sid.tolist()

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.build-", dir=out.parent) as tmp:
        build = Path(tmp)
        build.chmod(0o777 & ~current_umask())  # a temporary folder is 0700; the export is an ordinary folder
        tokenizer.save_pretrained(str(build / TOKENIZER_DIR))
        token_info = {"sid_end": SID_END, "first_id": first_id, "codebook_sizes": table.codebook_sizes}
        (build / SID_TOKENS_FILE).write_text(json.dumps({**token_info, "tokens": names}) + "\n", encoding="utf-8")
        with (build / ITEM_SIDS_FILE).open("w", encoding="utf-8") as f:
            for row in table.sid_items.tolist():
                f.write(json.dumps({"item_id": item_ids[row], "sid": sid_texts[item_sid[row]]}) + "\n")
        table.save(build / TABLE_DIR)
        sid_of = {item_ids[row]: sid_texts[item_sid[row]] for row in table.lookup(ds.items["item_id"].tolist())}
        counts = write_sft(ds, sid_of, build / SFT_DIR, cfg.max_history)
        meta = {
            "format_version": 1,
            "sid_table": str(tokenize_dir.resolve()),
            "dataset": str(data_dir.resolve()),
            "config": asdict(cfg),
            "n_items": table.n_items,
            "n_sids": table.n_sids,
            "tokenizer_size": len(tokenizer),
            **token_info,
            "prompts": PROMPTS,
            "sft_lines": counts.lines,
            "histories_cut": counts.histories_cut,
            "table_items_without_text": extra,
        }
        (build / EXPORT_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        replace_folder(build, out)
    return ExportResult(out, table.n_items, table.n_sids, first_id, len(tokenizer), counts, extra)

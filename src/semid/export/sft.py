"""Supervised fine-tuning records for an LLM that answers with SIDs, in the chat shape most trainers read
(TRL's SFTTrainer, LLaMA-Factory, Axolotl, OpenAI): one JSON object per line,
``{"task": ..., "id": ..., "target": ..., "messages": [{"role": "user", ...}, {"role": "assistant", ...}]}``.

Tasks, as in LC-Rec (arXiv:2311.09049) and MiniOneRec:

- ``query_to_sid``, ``history_to_sid``, ``query_history_to_sid``: one per query record, in the file of its
  split. A history lists its items oldest first, each as its SID string and its text (the SID teaches the SID
  space, the text lets the LLM use what it already knows), the most recent `max_history` kept.
- ``item_to_sid`` (item text -> SID) and ``sid_to_item`` (SID -> item text): one each per item, in train
  only. Items that share a SID (no dedup layer) each get their own ``sid_to_item`` record.

``target`` is the item id the answer stands for (for scoring generations), ``id`` the query or item id.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from semid.data.format import SPLITS, Dataset

QUERY_PROMPT = "Find the item that matches this query. Answer with its semantic ID.\nQuery: {query}"
HISTORY_PROMPT = (
    "A user interacted with these items, oldest first:\n{history}\n"
    "Answer with the semantic ID of the item they will interact with next."
)
QUERY_HISTORY_PROMPT = "Query: {query}\n" + HISTORY_PROMPT
ITEM_TO_SID_PROMPT = "What is the semantic ID of this item?\n{text}"
SID_TO_ITEM_PROMPT = "Which item has the semantic ID {sid}?"
PROMPTS = {
    "query_to_sid": QUERY_PROMPT,
    "history_to_sid": HISTORY_PROMPT,
    "query_history_to_sid": QUERY_HISTORY_PROMPT,
    "item_to_sid": ITEM_TO_SID_PROMPT,
    "sid_to_item": SID_TO_ITEM_PROMPT,
}


@dataclass
class SFTCounts:
    lines: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> task -> lines written
    histories_cut: int = 0  # records whose history was longer than max_history


def _record(task: str, record_id: str, target: str, prompt: str, answer: str) -> dict[str, Any]:
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    return {"task": task, "id": record_id, "target": target, "messages": messages}


def query_records(
    ds: Dataset, split: str, sid_of: dict[str, str], text_of: dict[str, str], max_history: int, counts: SFTCounts
) -> Iterator[dict[str, Any]]:
    """One record per query record of `split`: its query and/or history -> its target's SID."""
    q = ds.split(split)
    for query_id, query, history, target in zip(q["query_id"], q["query"], q["history"], q["target"], strict=True):
        query = str(query).strip()
        history = list(history)
        if len(history) > max_history:
            counts.histories_cut += 1
            history = history[len(history) - max_history :]
        lines = "\n".join(f"{n}. {sid_of[h]} {text_of[h]}" for n, h in enumerate(history, start=1))
        if query and history:
            task, prompt = "query_history_to_sid", QUERY_HISTORY_PROMPT.format(query=query, history=lines)
        elif query:
            task, prompt = "query_to_sid", QUERY_PROMPT.format(query=query)
        else:
            task, prompt = "history_to_sid", HISTORY_PROMPT.format(history=lines)
        yield _record(task, str(query_id), str(target), prompt, sid_of[target])


def item_records(ds: Dataset, sid_of: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Two records per item: its text -> its SID, and its SID -> its text."""
    for item_id, text in zip(ds.items["item_id"], ds.items["text"], strict=True):
        sid = sid_of[item_id]
        yield _record("item_to_sid", item_id, item_id, ITEM_TO_SID_PROMPT.format(text=text), sid)
        yield _record("sid_to_item", item_id, item_id, SID_TO_ITEM_PROMPT.format(sid=sid), text)


def _write(out: TextIO, records: Iterator[dict[str, Any]], tally: Counter[str]) -> None:
    for rec in records:
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        tally[rec["task"]] += 1


def write_sft(ds: Dataset, item_sids: dict[str, str], folder: Path, max_history: int) -> SFTCounts:
    """Write ``train.jsonl``, ``valid.jsonl`` and ``test.jsonl`` into `folder` (a split without records gets
    an empty file); `item_sids` maps each of the dataset's item ids to its SID string."""
    if max_history < 1:
        raise ValueError(f"max_history must be >= 1, got {max_history}")
    folder.mkdir(parents=True, exist_ok=True)
    text_of = dict(zip(ds.items["item_id"], ds.items["text"], strict=True))
    counts = SFTCounts()
    for split in SPLITS:
        tally: Counter[str] = Counter()
        with (folder / f"{split}.jsonl").open("w", encoding="utf-8") as out:
            _write(out, query_records(ds, split, item_sids, text_of, max_history, counts), tally)
            if split == "train":
                _write(out, item_records(ds, item_sids), tally)
        counts.lines[split] = dict(sorted(tally.items()))
    return counts

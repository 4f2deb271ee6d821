"""`Retriever.search`: queries (or histories) -> SIDs by constrained beam search -> items.

A retriever artifact is a folder: ``model/`` (Hugging Face save_pretrained), ``sid_table/`` and
``retriever.json`` (model config, vocabulary layout, input kind). Each returned SID expands to its items
in popularity order until k items are collected; every item carries its SID's beam score.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semid.errors import DataError, MissingResourceError
from semid.retrieve.beam import BeamResult, TrieTensors, beam_search
from semid.retrieve.model import InputEncoder, ModelConfig, load_text_tokenizer, pad_batch, sid_logits
from semid.retrieve.vocab import SIDVocab
from semid.sid.table import SIDTable
from semid.sid.trie import SIDTrie

ARTIFACT_META = "retriever.json"


@dataclass
class SearchResult:
    item_ids: list[str]
    scores: list[float]  # the beam score of each item's SID
    sids: list[tuple[int, ...]]  # each item's SID
    n_sids_generated: int  # finished beams (valid or not)
    n_hallucinated: int  # finished beams whose SID matches no item (unconstrained mode)


def _step_fn(model: Any, input_ids: torch.Tensor, mask: torch.Tensor, beam: int, vocab: SIDVocab) -> Any:
    """A beam-search step over a Hugging Face encoder-decoder, in ``vocab.local()`` token ids: the encoder
    runs once, the decoder feeds only the newest token and reorders its KV cache to follow the beams, and
    log-probabilities are over the SID tokens only."""
    with torch.no_grad():
        enc = model.get_encoder()(input_ids=input_ids, attention_mask=mask).last_hidden_state
    enc = enc.repeat_interleave(beam, dim=0)
    mask = mask.repeat_interleave(beam, dim=0)
    decoder = model.get_decoder()
    state: dict[str, Any] = {"cache": None}

    def step(prefix: torch.Tensor, reorder: torch.Tensor | None) -> torch.Tensor:
        cache = state["cache"]
        full = prefix + vocab.base  # local ids -> model ids (local 0 is EOS, which also pads finished beams)
        if cache is None or reorder is None:
            start = torch.zeros((prefix.shape[0], 1), dtype=torch.long, device=prefix.device)
            tokens, past = torch.cat([start, full], dim=1), None
        else:
            cache.reorder_cache(reorder)
            tokens, past = full[:, -1:], cache
        with torch.no_grad():
            out = decoder(
                input_ids=tokens,
                encoder_hidden_states=enc,
                encoder_attention_mask=mask,
                past_key_values=past,
                use_cache=True,
            )
            state["cache"] = out.past_key_values
            return torch.log_softmax(sid_logits(model, out.last_hidden_state[:, -1], vocab).float(), dim=-1)

    return step


class Retriever:
    def __init__(self, model: Any, table: SIDTable, vocab: SIDVocab, cfg: ModelConfig, input_kind: str) -> None:
        self.model, self.table, self.vocab, self.cfg, self.input_kind = model, table, vocab, cfg, input_kind
        self.device = next(model.parameters()).device
        self.trie = TrieTensors.from_trie(SIDTrie.from_table(table), self.device)
        self.inputs = InputEncoder(cfg, vocab, table, load_text_tokenizer(cfg.text_tokenizer))
        self._sid_lists = table.sid_code_matrix().to_lists()

    def with_table(self, table: SIDTable) -> Retriever:
        """The same model over another SID table (e.g. after `semid assign` added cold-start items)."""
        if list(table.codebook_sizes) != list(self.vocab.codebook_sizes):
            raise DataError(
                f"the SID table's codebooks {list(table.codebook_sizes)} differ from the model's vocabulary "
                f"{list(self.vocab.codebook_sizes)}",
                source="sid_table",
            )
        return Retriever(self.model, table, self.vocab, self.cfg, self.input_kind)

    def encode_inputs(
        self, queries: list[str] | None = None, histories: list[list[str]] | None = None
    ) -> list[list[int]]:
        if (queries is None) == (histories is None):
            raise ValueError("pass queries or histories")
        if queries is not None:
            return self.inputs.text(queries)
        assert histories is not None
        return self.inputs.history(histories)

    def generate(self, inputs: list[list[int]], beam: int = 20, constrained: bool = True) -> BeamResult:
        self.model.eval()
        ids, mask = pad_batch(inputs, self.device)
        local = self.vocab.local()
        return beam_search(
            _step_fn(self.model, ids, mask, beam, self.vocab),
            len(inputs),
            local,
            self.trie,
            beam,
            constrained,
            self.device,
        )

    def expand(self, res: BeamResult, k: int) -> list[SearchResult]:
        out = []
        for b in range(res.sids.shape[0]):
            items: list[str] = []
            scores: list[float] = []
            sids: list[tuple[int, ...]] = []
            finished = np.isfinite(res.scores[b])
            for sid, score in zip(res.sids[b], res.scores[b], strict=True):
                if sid < 0 or len(items) >= k:
                    continue
                for row in self.table.items_of_sid(int(sid))[: k - len(items)]:
                    items.append(str(self.table.item_ids[int(row)].as_py()))
                    scores.append(float(score))
                    sids.append(self._sid_lists[int(sid)])
            out.append(
                SearchResult(items, scores, sids, int(finished.sum()), int((finished & (res.sids[b] < 0)).sum()))
            )
        return out

    def search(
        self,
        queries: list[str] | None = None,
        k: int = 10,
        *,
        histories: list[list[str]] | None = None,
        beam: int = 20,
        constrained: bool = True,
        batch_size: int = 64,
    ) -> list[SearchResult]:
        """Top-k items for each query (text) or history (item ids, oldest first)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        inputs = self.encode_inputs(queries, histories)
        results: list[SearchResult] = []
        for start in range(0, len(inputs), batch_size):
            res = self.generate(inputs[start : start + batch_size], beam, constrained)
            results.extend(self.expand(res, k))
        return results

    # ------------------------------------------------------------------------------------------ persist

    def save(self, path: str | Path) -> Path:
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(out / "model")
        self.table.save(out / "sid_table")
        meta = {
            "model_config": asdict(self.cfg),
            "vocab_base": self.vocab.base,
            "codebook_sizes": list(self.vocab.codebook_sizes),
            "input_kind": self.input_kind,
        }
        (out / ARTIFACT_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> Retriever:
        root = Path(path)
        if not (root / ARTIFACT_META).exists():
            raise MissingResourceError(f"{root / ARTIFACT_META}: missing; is {root} a retriever made by `semid train`?")
        meta = json.loads((root / ARTIFACT_META).read_text(encoding="utf-8"))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import T5ForConditionalGeneration

        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        t5: Any = T5ForConditionalGeneration
        model = t5.from_pretrained(str(root / "model")).to(dev)
        table = SIDTable.load(root / "sid_table")
        vocab = SIDVocab(int(meta["vocab_base"]), tuple(meta["codebook_sizes"]))
        if list(vocab.codebook_sizes) != list(table.codebook_sizes):
            raise DataError("the SID table's codebooks differ from the model's vocabulary", source=str(root))
        return cls(model, table, vocab, ModelConfig(**meta["model_config"]), meta["input_kind"])

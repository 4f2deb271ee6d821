"""Building a retriever's backbone for a dataset and a SID table, and the (input, target SID) pairs it learns.

One rule decides the input kind for everything (training, the bench, serving): a dataset whose every record
has query text is a text dataset, else one whose every record has a history is a history dataset.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from semid.codes import Codes
from semid.data.checks import input_kind_notes
from semid.data.format import Dataset
from semid.embed.encoder import EncoderConfig, TextEncoder
from semid.errors import DataError, SemidWarning
from semid.finetune_rule import FIELD, check_finetune_request
from semid.retrieve.backbones import BACKBONES, Backbone, MiniLMBackbone
from semid.retrieve.model import ModelConfig, build_model, load_text_tokenizer
from semid.retrieve.pseudo_queries import pseudo_queries
from semid.retrieve.query_layers import trainable_top
from semid.retrieve.sid_model import SIDModel, SIDModelConfig, additive_code_vectors
from semid.retrieve.t5_backbone import T5Backbone
from semid.retrieve.vocab import SIDVocab
from semid.sid.table import SIDTable


@dataclass
class BuildConfig:
    backbone: str = "minilm"  # "minilm" (frozen MiniLM / item vectors + small SID decoder) or "t5" (from scratch)
    minilm: SIDModelConfig = field(default_factory=SIDModelConfig)
    t5: ModelConfig = field(default_factory=ModelConfig)
    encoder: str = "minilm"  # the minilm backbone's text encoder: "minilm" (bundled) or a local folder


def input_kind(ds: Dataset) -> str:
    q = ds.queries
    if (q["query"].str.strip() != "").all():
        for note in input_kind_notes(q):  # histories beside the text are not used: say so, never drop silently
            warnings.warn(f"{ds.name}: {note}", SemidWarning, stacklevel=2)
        return "text"
    if q["history"].map(len).gt(0).all():
        return "history"
    raise DataError(
        "every query record needs text, or every one a history (mixed datasets are not supported yet)", source="queries"
    )


def build_backbone(
    cfg: BuildConfig,
    ds: Dataset,
    table: SIDTable,
    kind: str,
    device: torch.device,
    show_progress: bool = True,
    item_vectors: np.ndarray | None = None,
) -> Backbone:
    """A freshly initialised backbone. The minilm backbone's output rows start as the SID tokens' additive
        code vectors over the MiniLM vectors of the item texts (so the untrained model already ranks SIDs by
        similarity to the query), and history models keep every item's vector as its content. ``item_vectors``: the
    items' vectors from the backbone's own text encoder (rows as ``ds.items``), so the catalogue is not embedded
    again."""
    if cfg.backbone not in BACKBONES:
        raise DataError(f"unknown backbone {cfg.backbone!r}; choose from {list(BACKBONES)}", source="backbone")
    check_finetune_request(cfg.minilm.finetune_layers, cfg.backbone, kind)
    if cfg.backbone == "t5":
        if cfg.t5.pretrained is not None and cfg.t5.text_tokenizer is None:  # its own tokenizer, not WordPiece
            cfg = replace(cfg, t5=replace(cfg.t5, text_tokenizer=cfg.t5.pretrained))
        text_tok = load_text_tokenizer(cfg.t5.text_tokenizer)
        vocab = SIDVocab(len(text_tok), tuple(table.codebook_sizes))
        return T5Backbone(build_model(cfg.t5, vocab).to(device), table, vocab, cfg.t5, kind)
    if kind == "history" and cfg.minilm.max_history < 1:
        raise ValueError(f"max_history must be >= 1, got {cfg.minilm.max_history}")
    vocab = SIDVocab(0, tuple(table.codebook_sizes))
    encoder = TextEncoder(EncoderConfig(model=cfg.encoder))
    n_top = cfg.minilm.finetune_layers  # checked (0..its layers) before the catalogue is embedded
    top = trainable_top(encoder.sentence_transformer(), n_top) if n_top else None
    if item_vectors is None:
        vectors = encoder.encode(ds.items["text"].tolist(), show_progress=show_progress)
    elif len(item_vectors) != len(ds.items):
        raise DataError(f"{len(item_vectors)} item vectors for {len(ds.items)} items", source="item_vectors")
    else:
        vectors = np.asarray(item_vectors, dtype=np.float32)
    rows = table.lookup(ds.items["item_id"].tolist())
    codes = table.item_codes()
    mine = Codes(codes.codes[rows], codes.lengths[rows])
    if top is not None and encoder.dim != vectors.shape[1]:
        raise DataError(
            f"{FIELD}: the text encoder's {encoder.dim}-d query vectors cannot be ranked against "
            f"{vectors.shape[1]}-d item vectors",
            source="finetune_layers",
        )
    model = SIDModel(cfg.minilm, vocab, vectors.shape[1], kind, n_items=len(ds.items), query_top=top)
    model.init_output_rows(additive_code_vectors(mine, vectors, vocab))
    backbone = MiniLMBackbone(model.to(device), table, cfg.encoder, encoder)
    backbone.store_item_vectors(ds.items["item_id"].tolist(), vectors)  # history inputs; exact ranking
    return backbone


def record_inputs(backbone: Backbone, records: Any, show_progress: bool = False) -> list[Any]:
    """Per-example inputs of query records (text or history, by the backbone's input kind)."""
    if backbone.input_kind == "history":
        return backbone.encode(None, [list(h) for h in records["history"]])
    texts = records["query"].tolist()
    if isinstance(backbone, MiniLMBackbone):  # training data: encoded once (vectors through the on-disk cache)
        return backbone.text_inputs(texts, cache=True, show_progress=show_progress)
    return backbone.encode(texts, None)


def training_pairs(
    backbone: Backbone,
    ds: Dataset,
    table: SIDTable,
    index_pairs: bool,
    max_records: int | None,
    seed: int,
    pseudo_per_item: int = 0,
) -> tuple[list[Any], list[list[int]]]:
    """(inputs, target SID tokens ending with EOS): every training record (or a seeded sample of
    ``max_records``), plus for text datasets with ``index_pairs`` every item's text -> its SID and
    ``pseudo_per_item`` pseudo-queries of it (semid.retrieve.pseudo_queries) -> its SID."""
    train = ds.split("train")
    if max_records is not None and len(train) > max_records:
        pick = np.sort(np.random.default_rng(seed).choice(len(train), max_records, replace=False))
        train = train.iloc[pick]
    if len(train) == 0:
        raise DataError("the dataset has no training records (split 'train')", source="queries")
    sid_tokens = backbone.vocab.tokens(table.item_codes())
    inputs = record_inputs(backbone, train, show_progress=True)
    targets = [sid_tokens[int(r)] for r in table.lookup(train["target"].tolist())]
    if index_pairs and backbone.input_kind == "text":
        rows = table.lookup(ds.items["item_id"].tolist())
        texts = ds.items["text"].tolist()
        spans, source = pseudo_queries(texts, pseudo_per_item, seed)
        texts, rows = texts + spans, np.concatenate([rows, rows[source]])
        if isinstance(backbone, MiniLMBackbone):
            inputs += backbone.text_inputs(texts, cache=True)
        else:  # t5: item texts through its own WordPiece input encoder, like the queries
            inputs += backbone.encode(texts, None)
        targets += [sid_tokens[int(r)] for r in rows]
    return inputs, targets


def valid_sample(backbone: Backbone, ds: Dataset, n: int, seed: int) -> tuple[list[Any], list[str]]:
    valid = ds.split("valid")
    pick = np.sort(np.random.default_rng(seed).permutation(len(valid))[:n])
    records = valid.iloc[pick]
    if len(records) == 0:
        return [], []
    return record_inputs(backbone, records), records["target"].tolist()

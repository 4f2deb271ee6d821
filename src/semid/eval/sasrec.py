"""SASRec (Kang & McAuley, ICDM 2018) as a sequential-recommendation baseline for `semid bench`.

The model and its training are cornac's (``cornac.models.SASRec``, PyTorch, CPU): item embeddings plus
learned positions, causal self-attention blocks, the item embedding table shared for scoring, trained on
every (prefix of a user's sequence, cut to ``max_len`` -> next item) pair with cross-entropy over the
in-batch targets plus ``n_negatives`` popularity-sampled items (``loss="ce"``; cornac's other losses
work too). It runs a fixed number of epochs and keeps the one best on the validation records (Recall@10,
evaluated every ``eval_every`` epochs): cornac's fit has no early stop, so there is no patience.

This adapter turns semid's (history -> target) records back into user sequences
(`sequences_from_records`), builds cornac's ``SequentialDataset`` from (user, session, item, position)
tuples, and ranks the whole catalogue for any history (``search``). Items already in the history are
left out of the ranking when no training sequence repeats an item (MovieLens: one rating per user and
movie, so a test target is never in its history); with repeat consumption in the training data they
stay rankable. Items no training sequence mentions (cold items) have no trained embedding: they are
ranked after every known item, in catalogue order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from semid.data.format import Dataset
from semid.errors import DataError


@dataclass
class SASRecConfig:
    dim: int = 64
    layers: int = 2
    heads: int = 1
    max_len: int = 20  # history items the encoder sees (semid's MovieLens histories hold <= 20)
    # MovieLens (benchmarks/bench_sasrec.py): validation Recall@10 peaks at epoch 5 with these, then falls;
    # batch 128 at lr 1e-3 learns about half as fast per epoch
    epochs: int = 6
    lr: float = 3e-3
    batch_size: int = 512  # (prefix -> next item) pairs per step
    dropout: float = 0.2
    n_negatives: int = 2048  # popularity-sampled negatives shared by a batch (besides in-batch targets)
    loss: str = "ce"
    eval_every: int = 1  # epochs between validation evaluations (the best one is kept)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not divisible by heads {self.heads}")
        for name in ("dim", "layers", "heads", "max_len", "epochs", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_negatives < 0:
            raise ValueError(f"n_negatives must be >= 0, got {self.n_negatives}")


def sequences_from_records(histories: Sequence[Sequence[str]], targets: Sequence[str]) -> list[list[str]]:
    """Merge (history -> target) records cut from the same sequences (leave-one-out positions with a
    history window of at most L items) back into those sequences. Record B continues record A when B's
    history is A's history + target cut on the left to L items; records sharing such a window are
    interchangeable there and are paired in record order. Each record lands in exactly one sequence."""
    windows = [(*h, t) for h, t in zip(histories, targets, strict=True)]
    cap = max((len(h) for h in histories), default=0)
    ends: dict[tuple[str, ...], list[int]] = {}  # window cut to L items -> records ending in it
    for i, w in enumerate(windows):
        ends.setdefault(w[-cap:], []).append(i)
    nxt: dict[int, int] = {}
    starts: dict[tuple[str, ...], list[int]] = {}
    for j, h in enumerate(histories):
        starts.setdefault(tuple(h), []).append(j)
    for key, js in starts.items():
        for i, j in zip(ends.get(key, []), js, strict=False):  # surplus ones end or start a sequence
            if i != j:
                nxt[i] = j
    has_prev = set(nxt.values())
    out, done = [], set()
    for i in [*(i for i in range(len(windows)) if i not in has_prev), *range(len(windows))]:
        if i in done:  # the second pass picks up what a cycle of links left unvisited
            continue
        seq, j = list(windows[i]), i
        done.add(i)
        while j in nxt and nxt[j] not in done:
            j = nxt[j]
            done.add(j)
            seq.append(windows[j][-1])
        out.append(seq)
    return out


class SASRecRetriever:
    """``fit(sequences, valid)`` then ``search(histories, k)``: ranked item ids per history."""

    def __init__(self, item_ids: Sequence[str], config: SASRecConfig | None = None) -> None:
        self.item_ids = list(item_ids)
        if len(set(self.item_ids)) != len(self.item_ids):
            raise DataError("item ids are not unique", source="items")
        self.config = config or SASRecConfig()
        self.model: Any = None  # the fitted cornac SASRec
        self.exclude_seen = True
        self._known: list[str] = []  # cornac's item index -> item id
        self._index: dict[str, int] = {}
        self._cold: list[str] = []  # catalogue items with no trained embedding, ranked last

    def fit(
        self,
        sequences: Sequence[Sequence[str]],
        valid: tuple[Sequence[Sequence[str]], Sequence[str]] | None = None,
        show_progress: bool = False,
    ) -> SASRecRetriever:
        """Train on item sequences (oldest first); keep the epoch best on the `valid` (histories,
        targets) records by Recall@10, or the last epoch without them."""
        from cornac.data import SequentialDataset
        from cornac.models import SASRec

        catalogue = set(self.item_ids)
        seqs = [[x for x in s if x in catalogue] for s in sequences]
        seqs = [s for s in seqs if len(s) >= 2]
        if not seqs:
            raise DataError("SASRec needs item sequences with at least 2 catalogue items to train on", source="train")
        self.exclude_seen = all(len(set(s)) == len(s) for s in seqs)
        rows = [(f"s{n}", f"s{n}", x, t) for n, s in enumerate(seqs) for t, x in enumerate(s)]
        train = SequentialDataset.build(rows, fmt="USIT", seed=self.config.seed)
        val = None
        if valid is not None:  # one session per record: cornac scores its last item given the others
            vseqs = [[x for x in (*h, y) if x in train.iid_map] for h, y in zip(*valid, strict=True)]
            vrows = [(f"v{n}", f"v{n}", x, t) for n, s in enumerate(vseqs) if len(s) >= 2 for t, x in enumerate(s)]
            if vrows:
                val = SequentialDataset.build(vrows, fmt="USIT", global_iid_map=train.iid_map, exclude_unknowns=True)
        cfg = self.config
        self.model = SASRec(
            embedding_dim=cfg.dim,
            num_blocks=cfg.layers,
            num_heads=cfg.heads,
            max_len=cfg.max_len,
            n_epochs=cfg.epochs,
            learning_rate=cfg.lr,
            batch_size=cfg.batch_size,
            dropout=cfg.dropout,
            n_sample=cfg.n_negatives,
            loss=cfg.loss,
            seed=cfg.seed,
            model_selection="best" if val is not None else "last",
            val_eval_every=cfg.eval_every,
            val_k=10,
            verbose=show_progress,
        ).fit(train, val)
        self._known = list(train.iid_map)
        self._index = dict(train.iid_map)
        self._cold = [x for x in self.item_ids if x not in self._index]
        return self

    def search(self, histories: Sequence[Sequence[str]], k: int) -> list[list[str]]:
        if self.model is None:
            raise RuntimeError("SASRecRetriever.search before fit")
        k = min(k, len(self.item_ids))
        out = []
        for h in histories:
            idx = [self._index[x] for x in h if x in self._index]
            scores = np.asarray(self.model.score(0, idx), dtype=np.float64).copy()
            if self.exclude_seen and idx:
                scores[idx] = -np.inf
            top = np.argsort(-scores, kind="stable")[:k]
            top = top[np.isfinite(scores[top])]
            ranked = [self._known[int(i)] for i in top]
            if len(ranked) < k:
                seen = set(h) if self.exclude_seen else set()
                ranked += [x for x in self._cold if x not in seen][: k - len(ranked)]
            out.append(ranked)
        return out


def fit_sasrec(ds: Dataset, config: SASRecConfig | None = None, show_progress: bool = False) -> SASRecRetriever:
    """SASRec trained on a history dataset's train records (merged back into user sequences) and
    validated on its valid records."""
    train, valid = ds.split("train"), ds.split("valid")
    if not (train["history"].map(len) > 0).any():
        raise DataError(
            f"SASRec needs history data (records whose queries are item histories); the {ds.name!r} "
            "train records have text queries and no history",
            source=ds.name,
        )
    seqs = sequences_from_records(train["history"].tolist(), train["target"].tolist())
    val = (valid["history"].tolist(), valid["target"].tolist()) if len(valid) else None
    return SASRecRetriever(ds.items["item_id"].tolist(), config).fit(seqs, val, show_progress=show_progress)

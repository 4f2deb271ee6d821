"""Non-generative baselines with one `search(queries, k) -> ranked item ids per query` each.

- BM25 over item texts (``bm25s``, English stopwords).
- Dense retrieval: the same text encoder as the SIDs (bundled MiniLM) + exact inner-product search (faiss).
- Popularity: the k most popular items, for every query (the floor for sequential recommendation).
"""

from __future__ import annotations

from collections.abc import Sequence

import faiss
import numpy as np

from semid.embed.encoder import EncoderConfig, TextEncoder
from semid.embed.vectors import check_vectors


class BM25Retriever:
    def __init__(self, item_ids: Sequence[str], texts: Sequence[str]) -> None:
        import bm25s

        self.item_ids = list(item_ids)
        self._bm25s = bm25s
        self.model = bm25s.BM25()
        self.model.index(bm25s.tokenize(list(texts), stopwords="en", show_progress=False), show_progress=False)

    def search(self, queries: Sequence[str], k: int) -> list[list[str]]:
        k = min(k, len(self.item_ids))
        tokens = self._bm25s.tokenize(list(queries), stopwords="en", show_progress=False)
        docs, scores = self.model.retrieve(tokens, k=k, show_progress=False)
        # bm25s pads queries with no matching term with score-0 documents: drop those, they are not retrieved
        return [
            [self.item_ids[int(d)] for d, s in zip(row, srow, strict=True) if s > 0]
            for row, srow in zip(docs, scores, strict=True)
        ]


class DenseRetriever:
    def __init__(self, item_ids: Sequence[str], item_vectors: np.ndarray, encoder: EncoderConfig | None = None) -> None:
        self.item_ids = list(item_ids)
        x = check_vectors(item_vectors, source="item vectors", n_rows=len(self.item_ids))
        self.index = faiss.IndexFlatIP(x.shape[1])
        self.index.add(x)
        self.encoder = TextEncoder(encoder)

    def search(self, queries: Sequence[str], k: int, show_progress: bool = False) -> list[list[str]]:
        q = self.encoder.encode(list(queries), show_progress=show_progress)
        _, idx = self.index.search(
            check_vectors(q, source="query vectors", dim=self.index.d), min(k, len(self.item_ids))
        )
        return [[self.item_ids[int(i)] for i in row if i >= 0] for row in idx]


class PopularityRetriever:
    def __init__(self, item_ids: Sequence[str], popularity: np.ndarray) -> None:
        order = np.argsort(-np.asarray(popularity), kind="stable")
        self.ranked = [item_ids[int(i)] for i in order]

    def search(self, queries: Sequence[object], k: int) -> list[list[str]]:
        return [self.ranked[:k] for _ in queries]

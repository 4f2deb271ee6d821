"""The SID trie as flat arrays, for constrained decoding with array lookups (no Python per beam).

Nodes are the distinct prefixes of the table's SIDs, numbered breadth-first (root 0, then every
depth-1 prefix in trie order, then depth 2, ...). The children of node n are the edges
``node_offsets[n]:node_offsets[n+1]``, sorted by code: ``edge_code`` (the layer-specific code, not the
vocabulary token) and ``edge_child``. ``node_sid[n]`` is the SID that ends at n (EOS allowed there), or -1.
Because edges are sorted by (parent, code), the child of (n, c) is found by a binary search on
``edge_key = parent * K + code``. About 17 bytes per edge; a table of n items with L layers has at most
n * L edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semid.codes import code_keys, find_sorted
from semid.sid.table import SIDTable


@dataclass
class SIDTrie:
    node_offsets: np.ndarray  # [n_nodes + 1] int64: children range of each node
    edge_code: np.ndarray  # [n_edges] int32: code of the child (at layer = depth of the parent)
    edge_child: np.ndarray  # [n_edges] int32: child node
    edge_key: np.ndarray  # [n_edges] int64: parent * key_base + code, sorted
    node_sid: np.ndarray  # [n_nodes] int32: SID index ending at this node, or -1
    node_depth: np.ndarray  # [n_nodes] int8
    codebook_sizes: list[int]
    key_base: int

    @property
    def n_nodes(self) -> int:
        return int(self.node_sid.shape[0])

    def nbytes(self) -> int:
        arrays = (self.node_offsets, self.edge_code, self.edge_child, self.edge_key, self.node_sid, self.node_depth)
        return int(sum(a.nbytes for a in arrays))

    @classmethod
    def from_table(cls, table: SIDTable) -> SIDTrie:
        sids = table.sid_code_matrix()
        S, L = sids.n_items, sids.n_layers
        key_base = max(table.codebook_sizes) + 1
        parents_all, codes_all = [], []
        sid_node = np.zeros(S, dtype=np.int64)  # node of each SID's full code
        prev_node = np.zeros(S, dtype=np.int64)  # node of each SID's prefix at the previous depth
        depths = [np.zeros(1, dtype=np.int8)]
        next_id = 1
        for depth in range(1, L + 1):
            has = sids.lengths >= depth
            idx = np.flatnonzero(has)
            keys = code_keys(sids.codes[idx, :depth])
            # SIDs are in trie order, so equal prefixes are adjacent and already sorted
            start = np.ones(idx.size, dtype=bool)
            start[1:] = keys[1:] != keys[:-1]
            local = np.cumsum(start) - 1
            n_new = int(start.sum())
            node_ids = next_id + local
            parents_all.append(prev_node[idx][start])
            codes_all.append(sids.codes[idx, depth - 1][start].astype(np.int32))
            prev_node[idx] = node_ids
            ends_here = sids.lengths[idx] == depth
            sid_node[idx[ends_here]] = node_ids[ends_here]
            depths.append(np.full(n_new, depth, dtype=np.int8))
            next_id += n_new
        parents = np.concatenate(parents_all)
        edge_code = np.concatenate(codes_all)
        n_nodes = next_id
        counts = np.bincount(parents, minlength=n_nodes)
        node_offsets = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(counts, out=node_offsets[1:])
        edge_child = np.arange(1, n_nodes, dtype=np.int32)  # breadth-first ids follow the edge order
        node_sid = np.full(n_nodes, -1, dtype=np.int32)
        node_sid[sid_node] = np.arange(S, dtype=np.int32)
        edge_key = parents.astype(np.int64) * key_base + edge_code
        return cls(
            node_offsets,
            edge_code,
            edge_child,
            edge_key,
            node_sid,
            np.concatenate(depths),
            list(table.codebook_sizes),
            key_base,
        )

    # ------------------------------------------------------------------------------------------ numpy lookups

    def children(self, node: int) -> np.ndarray:
        return self.edge_code[self.node_offsets[node] : self.node_offsets[node + 1]]

    def child(self, nodes: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Child of each (node, code), or -1 where the trie has no such edge."""
        keys = nodes.astype(np.int64) * self.key_base + codes
        pos, found = find_sorted(self.edge_key, keys)
        ok = found & (nodes >= 0) & (codes >= 0)
        return np.where(ok, self.edge_child[pos], -1)

import numpy as np

from semid.sid import SIDTable
from semid.sid.trie import SIDTrie
from semid.tokenize import Codes


def test_hand_built_trie():
    codes = Codes.from_lists([[1, 2], [1], [1, 2], [0, 3], [1], [1, 0]], n_layers=2)
    table = SIDTable.build(list("abcdef"), codes, [4, 4])  # SIDs: (0,3) (1) (1,0) (1,2)
    trie = SIDTrie.from_table(table)
    assert trie.n_nodes == 6
    assert trie.children(0).tolist() == [0, 1]
    node_1 = int(trie.child(np.array([0]), np.array([1]))[0])
    assert trie.children(node_1).tolist() == [0, 2]
    assert trie.node_sid[node_1] == 1  # "(1) EOS" is a SID: EOS allowed there
    assert trie.node_sid[0] == -1
    leaf = trie.child(np.array([node_1, node_1, node_1]), np.array([0, 2, 3]))
    assert trie.node_sid[leaf[:2]].tolist() == [2, 3] and leaf[2] == -1
    assert trie.child(np.array([-1]), np.array([0])).tolist() == [-1]


def test_every_sid_is_a_path_and_memory_is_bytes_per_item():
    rng = np.random.default_rng(0)
    n = 50_000
    lengths = rng.integers(1, 4, size=n).astype(np.int32)
    raw = rng.integers(0, 64, size=(n, 3)).astype(np.int32)
    raw[np.arange(3)[None, :] >= lengths[:, None]] = -1
    table = SIDTable.build([str(i) for i in range(n)], Codes(raw, lengths), [64, 64, 64])
    trie = SIDTrie.from_table(table)
    sids = table.sid_code_matrix()
    node = np.zeros(sids.n_items, dtype=np.int64)
    for layer in range(3):
        step = sids.lengths > layer
        node[step] = trie.child(node[step], sids.codes[step, layer])
    assert (node >= 0).all()
    np.testing.assert_array_equal(trie.node_sid[node], np.arange(sids.n_items))
    assert trie.nbytes() / n < 3 * 25  # at most L edges per item, about 25 bytes each with node arrays

import json

import numpy as np
import pytest

from semid.errors import DataError
from semid.sid import SIDTable
from semid.sid.diagnostics import compute_diagnostics
from semid.tokenize import HourglassFix, load_tokenizer, make_tokenizer
from semid.tokenize.base import CONFIG_FILE
from tests.helpers import clustered

SIZES = [16, 32, 32]


def fitted(mode, k=4):
    x = clustered(4000, 16, 30)
    tok = make_tokenizer("rq_kmeans", codebook_sizes=SIZES, show_progress=False, hourglass=mode, hourglass_k=k)
    return tok.fit(x), x


def test_top_k_lowers_layer2_concentration_and_keeps_every_item():
    tok, x = fitted("top_k")
    assert isinstance(tok, HourglassFix)
    base = tok.base.encode(x)
    codes = tok.encode(x)
    before = compute_diagnostics(base, SIZES)["layers"][1]["top1_share"]
    after = compute_diagnostics(codes, tok.codebook_sizes)["layers"][1]["top1_share"]
    assert after < before
    dropped = np.isin(base.codes[:, 1], tok.top_tokens)
    assert (codes.lengths[dropped] == 2).all() and (codes.lengths[~dropped] == 3).all()
    table = SIDTable.build([str(i) for i in range(len(x))], codes, tok.codebook_sizes)
    assert table.n_items == len(x) and table.sid_sizes().sum() == len(x)
    # the rewrite is invertible up to the dropped token
    back = tok.to_base(codes)
    np.testing.assert_array_equal(back.codes[~dropped], base.codes[~dropped])
    np.testing.assert_array_equal(back.codes[dropped][:, [0, 2]], base.codes[dropped][:, [0, 2]])


def test_top_k_tokens_stay_layer_specific_with_four_layers(tmp_path):
    sizes = [8, 16, 4, 8]  # layer 4 larger than layer 3: unshifted, its codes would overflow position 3
    x = clustered(3000, 16, 30)
    tok = make_tokenizer("rq_kmeans", codebook_sizes=sizes, show_progress=False, hourglass="top_k", hourglass_k=4)
    tok.fit(x)
    base, codes = tok.base.encode(x), tok.encode(x)
    assert tok.codebook_sizes == [8, 16 + 4, 4 + 8, 8]
    dropped = np.isin(base.codes[:, 1], tok.top_tokens)
    assert dropped.any() and (~dropped).any()
    for p in (1, 2):  # a position's code names one layer: layer p+1 below the shift, layer p+2 above it
        below = codes.codes[:, p] < sizes[p]
        np.testing.assert_array_equal(below, ~dropped)
        np.testing.assert_array_equal(codes.codes[~dropped, p], base.codes[~dropped, p])
        np.testing.assert_array_equal(codes.codes[dropped, p] - sizes[p], base.codes[dropped, p + 1])
    SIDTable.build([str(i) for i in range(len(x))], codes, tok.codebook_sizes)  # every code within its vocabulary
    back = tok.to_base(codes)
    np.testing.assert_array_equal(back.codes[:, [0, 2, 3]], base.codes[:, [0, 2, 3]])
    tok.save(tmp_path / "hg")
    np.testing.assert_array_equal(load_tokenizer(tmp_path / "hg").encode(x).codes, codes.codes)
    payload = json.loads((tmp_path / "hg" / CONFIG_FILE).read_text())
    del payload["config"]["layer_specific_tail"]  # a folder written before: its codes keep their old layout
    (tmp_path / "hg" / CONFIG_FILE).write_text(json.dumps(payload))
    old = load_tokenizer(tmp_path / "hg")
    assert old.codebook_sizes == [8, 16 + 4, 4, 8]
    old_codes = old.encode(x)
    np.testing.assert_array_equal(old_codes.codes[dropped, 2], base.codes[dropped, 3])  # unshifted, as it was
    np.testing.assert_array_equal(old.to_base(old_codes).codes[:, [0, 2, 3]], base.codes[:, [0, 2, 3]])


def test_drop_layer2():
    tok, x = fitted("drop_layer2")
    codes = tok.encode(x)
    base = tok.base.encode(x)
    assert tok.codebook_sizes == [16, 32] and (codes.lengths == 2).all()
    np.testing.assert_array_equal(codes.codes, base.codes[:, [0, 2]])


def test_save_load(tmp_path):
    tok, x = fitted("top_k")
    tok.save(tmp_path / "hg")
    back = load_tokenizer(tmp_path / "hg")
    np.testing.assert_array_equal(back.encode(x).codes, tok.encode(x).codes)
    config_file = tmp_path / "hg" / CONFIG_FILE  # a folder written before layer_specific_tail existed
    payload = json.loads(config_file.read_text())
    del payload["config"]["layer_specific_tail"]
    config_file.write_text(json.dumps(payload))
    old = load_tokenizer(tmp_path / "hg")
    assert not old.config.layer_specific_tail  # 3 layers: both readings give the same codes
    np.testing.assert_array_equal(old.encode(x).codes, tok.encode(x).codes)


def test_errors():
    x = clustered(500, 8, 5)
    with pytest.raises(DataError, match="at least 3 layers"):
        make_tokenizer("rq_kmeans", codebook_sizes=[8, 8], show_progress=False, hourglass="top_k").fit(x)
    with pytest.raises(DataError, match="unknown hourglass mode"):
        make_tokenizer("rq_kmeans", hourglass="sideways")
    with pytest.raises(DataError, match="fixed-length"):
        make_tokenizer("sarq", codebook_sizes=[8, 8, 8], show_progress=False, hourglass="top_k", hourglass_k=2).fit(x)

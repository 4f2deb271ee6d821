import numpy as np
import pytest

from semid.errors import DataError
from semid.sid import SIDTable
from semid.sid.diagnostics import compute_diagnostics
from semid.tokenize import HourglassFix, load_tokenizer, make_tokenizer
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


def test_errors():
    x = clustered(500, 8, 5)
    with pytest.raises(DataError, match="at least 3 layers"):
        make_tokenizer("rq_kmeans", codebook_sizes=[8, 8], show_progress=False, hourglass="top_k").fit(x)
    with pytest.raises(DataError, match="unknown hourglass mode"):
        make_tokenizer("rq_kmeans", hourglass="sideways")
    with pytest.raises(DataError, match="fixed-length"):
        make_tokenizer("sarq", codebook_sizes=[8, 8, 8], show_progress=False, hourglass="top_k", hourglass_k=2).fit(x)

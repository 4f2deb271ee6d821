"""`with_table`: a trained model over another SID table only where its output rows still mean the same SIDs."""

import numpy as np
import pytest

from semid.errors import DataError
from semid.retrieve.build import BuildConfig
from semid.retrieve.model import ModelConfig
from semid.retrieve.sid_model import SIDModelConfig
from semid.sid.table import SIDTable
from semid.tokenize import Codes
from tests.retrieve.helpers import random_vector_retriever

SIZES = (8, 8)
BUILDS = {
    "minilm": BuildConfig(minilm=SIDModelConfig(d_model=32, decoder_layers=1)),
    "t5": BuildConfig("t5", t5=ModelConfig(d_model=32, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2)),
}


@pytest.fixture(scope="module", params=sorted(BUILDS))
def untrained(request):
    return random_vector_retriever(BUILDS[request.param])[1]


def _table(ids, codes: np.ndarray, sizes=SIZES) -> SIDTable:
    return SIDTable.build(list(ids), Codes.full(codes.astype(np.int32)), list(sizes))


def test_added_items_and_a_part_of_the_catalogue_are_taken(untrained):
    table = untrained.table
    codes = table.item_codes().codes
    grown = untrained.with_table(table.extend(["new0", "new1"], Codes.full(codes[:2])))
    assert grown.table.n_items == table.n_items + 2
    assert grown.search(["boat, red"], k=3, beam=4)[0].item_ids  # the grown table serves
    ids = table.item_ids.to_pylist()
    part = _table(ids[::3], codes[::3])  # fewer items, each on its SID
    assert untrained.with_table(part).table.n_items == len(ids[::3])


def test_a_table_whose_items_moved_to_other_sids_is_refused(untrained):
    table = untrained.table
    ids, codes = table.item_ids.to_pylist(), table.item_codes().codes
    refit = codes.copy()
    refit[5, 1] = (refit[5, 1] + 1) % SIZES[1]  # one item on another SID: what another tokenizer fit gives
    other = _table([*ids, "new0"], np.vstack([refit, codes[:1]]))
    with pytest.raises(DataError, match=rf"1 of the {len(ids)} items .* another SID there \(item '{ids[5]}'"):
        untrained.with_table(other)
    with pytest.raises(DataError, match="1 of the 1 items"):  # caught however few items the tables share
        untrained.backbone.with_table(_table([ids[5], "new0"], np.vstack([refit[5:6], codes[:1]])))


def test_a_table_with_another_token_layout_is_refused(untrained):
    table = untrained.table
    codes = table.item_codes().codes
    for sizes in [(8, 9), (8, 8, 2)]:  # a grown dedup layer; a layer the model has no tokens for
        wider = np.hstack([codes, np.zeros((len(codes), len(sizes) - len(SIZES)), dtype=codes.dtype)])
        with pytest.raises(DataError, match=r"codebooks \[8, (9|8, 2)\] differ from the model's vocabulary"):
            untrained.with_table(_table(table.item_ids.to_pylist(), wider, sizes))

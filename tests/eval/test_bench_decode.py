"""The bench's decoding: both item orders of one beam search, as `Retriever.expand` gives each alone."""

from types import SimpleNamespace

import pandas as pd

from semid.eval.bench.methods import DECODE_BATCH, _decode
from semid.retrieve.build import BuildConfig
from semid.retrieve.sid_model import SIDModelConfig
from tests.retrieve.helpers import random_vector_retriever


def test_decoded_rows_of_both_orders_are_each_orders_own():
    ds, retriever = random_vector_retriever(BuildConfig(minilm=SIDModelConfig(d_model=32, decoder_layers=1)))
    queries = ds.queries["query"].tolist()[: DECODE_BATCH + 10]  # two batches
    cut = 50  # what the bench's history rule and its cut at max K do to a list, here a cut

    def finish(lists, rows):
        return [x[:cut] for x in lists]

    data = SimpleNamespace(input_kind="text", test=pd.DataFrame({"query": queries}), drop_seen=lambda x, _: x)
    data.finish = finish
    decoded = _decode(retriever, data, beam=6, exact=True)
    inputs = retriever.encode_inputs(queries)
    beam, exact = [], []
    for start in range(0, len(inputs), DECODE_BATCH):
        batch = inputs[start : start + DECODE_BATCH]
        res = retriever.generate(batch, beam=6)
        beam += [r.item_ids for r in retriever.expand(res, retriever.table.n_items)]
        exact += [r.item_ids for r in retriever.expand(res, retriever.table.n_items, "exact", batch)]
    assert decoded.run == finish(beam, None) and decoded.exact_run == finish(exact, None)
    assert decoded.retrieved.tolist() == [len(x) for x in beam] and decoded.run != decoded.exact_run
    assert _decode(retriever, data, beam=6).run == decoded.run  # without the exact order, the same beam order

from __future__ import annotations

import json

import pytest

from semid.embed.encoder import default_model_path
from semid.export import ExportConfig, export_hf, load_hf_export
from semid.export.sid_text import sid_string
from semid.sid import SIDTable


@pytest.fixture(scope="module", params=["sid_only", "minilm"])
def exported(request, catalogue, tmp_path_factory):
    _, ds, tok, counts = catalogue
    base = str(default_model_path()) if request.param == "minilm" else None
    out = tmp_path_factory.mktemp(f"out-{request.param}") / "export"
    res = export_hf(tok, ds, out, ExportConfig(base_tokenizer=base, max_history=10))
    return res, load_hf_export(out), counts


def _all_sids(table: SIDTable) -> list[tuple[int, ...]]:
    sids = table.sid_code_matrix()
    return [tuple(row[:n]) for row, n in zip(sids.codes.tolist(), sids.lengths.tolist(), strict=True)]


def test_the_tokenizer_round_trips_every_sid_string(exported):
    res, sids, _ = exported
    table = sids.table
    assert len(set(table.sid_lengths.tolist())) > 1  # adaptive SIDs: the end token matters
    tok = sids.tokenizer
    for s, codes in enumerate(_all_sids(table)):
        text = sid_string(codes)
        ids = tok(text, add_special_tokens=False)["input_ids"]
        expected = [sids.vocab.layer_start(layer) + c for layer, c in enumerate(codes)] + [sids.vocab.eos]
        assert ids == expected
        for read in (sids.read_text(tok.decode(ids)), sids.read_ids(ids)):
            assert read.sid == text and read.problem is None
            assert read.item_ids == table.item_ids.take(table.items_of_sid(s)).to_pylist()
    assert res.first_sid_token_id == sids.vocab.eos and res.tokenizer_size == len(tok) == sids.vocab.size


def test_the_base_tokenizer_keeps_its_own_ids():
    from transformers import AutoTokenizer

    from semid.export.hf import add_sid_tokens

    base = AutoTokenizer.from_pretrained(str(default_model_path()))
    before = base("Toy Story, a castle")["input_ids"]
    first = add_sid_tokens(base, ["<sid_end>", "<a_0>", "<a_1>"])
    assert first == 30522 and base("Toy Story, a castle")["input_ids"] == before
    assert base("castle<a_1>", add_special_tokens=False)["input_ids"] == [*before[-2:-1], first + 2]


def test_sft_files_parse_with_one_line_per_record_and_item(exported, catalogue):
    res, sids, counts = exported
    _, ds_dir, _, _ = catalogue
    from semid.data import load_dataset

    ds = load_dataset(ds_dir)
    text_of = dict(zip(ds.items["item_id"], ds.items["text"], strict=True))
    queries = ds.queries.set_index("query_id")
    folder = res.out / "sft"
    meta = json.loads((res.out / "export.json").read_text())
    item_sids = [json.loads(line) for line in (res.out / "item_sids.jsonl").read_text().splitlines()]
    assert sorted(r["item_id"] for r in item_sids) == sorted(text_of)
    sid_of = {r["item_id"]: r["sid"] for r in item_sids}
    assert all(sids.sid_of(i) == s for i, s in sid_of.items())
    cut = 0
    for split, n_queries in counts.items():
        records = [json.loads(line) for line in (folder / f"{split}.jsonl").read_text().splitlines()]
        n_items = len(text_of) if split == "train" else 0  # train also holds item_to_sid and sid_to_item per item
        assert len(records) == n_queries + 2 * n_items == sum(meta["sft_lines"][split].values())
        seen = {"item_to_sid": set(), "sid_to_item": set()}
        for rec in records:
            user, answer = rec["messages"]
            assert user["role"] == "user" and answer["role"] == "assistant"
            if rec["task"] in seen:
                seen[rec["task"]].add(rec["id"])
                item_answer = text_of[rec["id"]] if rec["task"] == "sid_to_item" else sid_of[rec["id"]]
                assert answer["content"] == item_answer
                continue
            q = queries.loc[rec["id"]]
            assert q["split"] == split and rec["target"] == q["target"] and answer["content"] == sid_of[q["target"]]
            assert sids.read_text(answer["content"]).item_ids.count(q["target"]) == 1
            history = list(q["history"])[-10:]
            cut += len(q["history"]) > 10
            for n, item in enumerate(history, start=1):
                assert f"{n}. {sid_of[item]} {text_of[item]}" in user["content"]
            assert (str(q["query"]) in user["content"]) and (f"{len(history) + 1}. " not in user["content"])
        assert seen == {
            "item_to_sid": set(text_of) if n_items else set(),
            "sid_to_item": set(text_of) if n_items else set(),
        }
    assert cut == res.sft.histories_cut == meta["histories_cut"] > 0


def test_hallucinated_and_malformed_answers_are_reported(exported):
    _, sids, _ = exported
    real = set(_all_sids(sids.table))
    fake = next(
        (a, b, c)
        for a in range(8)
        for b in range(8)
        for c in range(8)
        if (a, b, c) not in real and (a,) not in real and (a, b) not in real
    )
    got = sids.read_text(sid_string(fake))
    assert got.item_ids == [] and not got.is_real and "hallucinated" in got.problem
    text_id = sids.tokenizer.convert_tokens_to_ids("<unk>" if sids.vocab.base == 2 else "castle")
    got = sids.read_ids([sids.vocab.layer_start(0), text_id, sids.vocab.eos])
    assert got.item_ids == [] and "is not a SID token" in got.problem
    assert "unfinished" in sids.read_ids([sids.vocab.layer_start(0)]).problem
    assert sids.read_ids(
        [*sids.tokenizer(sid_string(next(iter(real))), add_special_tokens=False)["input_ids"], 0, 5]
    ).is_real


def test_a_tokenizer_of_your_own_with_the_sid_tokens_added(exported):
    from transformers import AutoTokenizer

    res, _, _ = exported
    tokens = json.loads((res.out / "sid_tokens.json").read_text())["tokens"]
    own = AutoTokenizer.from_pretrained(str(default_model_path()))
    with pytest.raises(ValueError, match="lacks the SID token '<sid_end>'"):
        load_hf_export(res.out, tokenizer=own)
    own.add_tokens(tokens[1:] + tokens[:1])
    with pytest.raises(ValueError, match="consecutive ids"):
        load_hf_export(res.out, tokenizer=own)
    mine = AutoTokenizer.from_pretrained(str(default_model_path()))
    mine.add_tokens(tokens)
    sids = load_hf_export(res.out, tokenizer=mine)
    assert sids.vocab.eos == 30522 and sids.read_text(sids.sid_of("i3")).item_ids[:1] != []

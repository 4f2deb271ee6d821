import pytest

from semid.data.wordnet import wordnet_items_and_queries
from semid.errors import DataError, MissingResourceError
from tests.helpers import ASSETS

WN = ASSETS / "wordnet"


def test_items_from_real_wordnet_lines():
    items, _, meta = wordnet_items_and_queries(WN)
    by_id = items.set_index("item_id")
    assert len(items) == 11
    assert by_id.loc["00001930-n", "text"] == "physical entity | is a: entity | noun.Tops"
    assert by_id.loc["00001740-v", "text"] == "breathe, take a breath, respire, suspire | verb.body"
    # sense counts summed per synset: entity 11, breathe 22, able 70
    assert by_id.loc["00001740-n", "popularity"] == 11
    assert by_id.loc["00001740-v", "popularity"] == 22
    assert by_id.loc["00001740-a", "popularity"] == 70
    # a satellite matches although cntlist.rev names an older cluster head ("aborning")
    assert by_id.loc["00003553-a", "popularity"] == 1
    # nascent is a head adjective in 3.0 but a satellite in the count file: reported, not hidden
    assert meta["n_unmatched_sense_keys"] == 1


def test_queries_are_definitions_without_examples_and_splits_are_disjoint():
    _, queries, _ = wordnet_items_and_queries(WN)
    q = queries.set_index("target")
    assert q.loc["00003553-a", "query"] == "coming into existence"
    assert (
        q.loc["00001837-r", "query"]
        == "in the Christian era; used before dates after the supposed year Christ was born"
    )
    assert queries["target"].is_unique
    assert set(queries["split"]) <= {"train", "valid", "test"}


def test_missing_files_say_how_to_install(tmp_path):
    with pytest.raises(MissingResourceError, match="wordnet-base"):
        wordnet_items_and_queries(tmp_path)


def test_malformed_line_names_file_and_line(tmp_path):
    for f in WN.iterdir():
        (tmp_path / f.name).write_text(f.read_text())
    with (tmp_path / "data.verb").open("a") as fh:
        fh.write("00009999 29 v zz broken\n")
    with pytest.raises(DataError, match=r"data.verb line 32: malformed WordNet data line"):
        wordnet_items_and_queries(tmp_path)

"""The one rule for the options every caller (CLI, bench, Python) sets for every tokenizer method."""

from semid.tokenize import AtomicIDs, make_tokenizer, options_for


def test_dsi_drops_the_options_every_other_method_takes():
    given = {"codebook_sizes": [8, 8], "seed": 3, "show_progress": False, "hourglass": "top_k"}
    assert options_for("dsi", given) == {"hourglass": "top_k"}  # what remains is the caller's to answer for
    assert options_for("rq_kmeans", given) == given and options_for("rq_kmeans", given) is not given


def test_make_tokenizer_applies_the_rule_itself():
    assert isinstance(make_tokenizer("dsi", codebook_sizes=[8, 8], seed=3, show_progress=False), AtomicIDs)

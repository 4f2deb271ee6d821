"""Method rules of the pipeline that every caller (CLI, bench) shares."""

from semid.pipeline import tokenizer_options


def test_dsi_drops_the_options_every_other_method_takes():
    given = {"codebook_sizes": [8, 8], "seed": 3, "show_progress": False, "hourglass": "top_k"}
    assert tokenizer_options("dsi", given) == {"hourglass": "top_k"}  # what remains is the caller's to answer for
    assert tokenizer_options("rq_kmeans", given) == given and tokenizer_options("rq_kmeans", given) is not given

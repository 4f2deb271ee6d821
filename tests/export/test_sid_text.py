from __future__ import annotations

import numpy as np
import pytest

from semid.codes import Codes
from semid.export.sid_text import SIDText, layer_name, sid_string, sid_token_names
from semid.retrieve.vocab import SIDVocab


def test_layer_names_are_letters_then_pairs():
    assert [layer_name(i) for i in (0, 1, 25, 26, 27, 51, 52)] == ["a", "b", "z", "aa", "ab", "az", "ba"]
    assert len({layer_name(i) for i in range(1000)}) == 1000


def test_token_names_follow_the_sid_vocabulary_layout():
    vocab = SIDVocab(base=7, codebook_sizes=(3, 5, 2))
    names = sid_token_names(vocab.codebook_sizes)
    assert len(names) == vocab.n_sid_tokens and names[0] == "<sid_end>"
    codes = Codes(np.array([[2, 4, 1], [0, 3, -1]], dtype=np.int32), np.array([3, 2], dtype=np.int32))
    for row, tokens in zip(codes.codes, vocab.tokens(codes), strict=True):
        text = "".join(names[t - vocab.base] for t in tokens)
        assert text == sid_string([c for c in row if c >= 0])
    assert sid_string([2, 4, 1]) == "<a_2><b_4><c_1><sid_end>"


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("<a_2><b_4><sid_end>", (2, 4)),
        ("  <a_2> <b_4>\n<c_1><sid_end></s>[PAD]", (2, 4, 1)),  # what follows <sid_end> is not read
        ("<a_0><sid_end><a_1><sid_end>", (0,)),
    ],
)
def test_sid_strings_are_read(text, codes):
    parsed = SIDText(SIDVocab(0, (3, 5, 2))).parse(text)
    assert parsed.codes == codes and parsed.problem is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("<b_1><sid_end>", "<b_1> is not a layer-0 code"),
        ("<a_3><sid_end>", "<a_3> is not a SID token of this table"),
        ("<a_1><b_1><c_1><d_0><sid_end>", "<d_0> is not a SID token"),
        ("<a_1><b_1>", "no <sid_end>"),
        ("<sid_end>", "empty SID"),
        ("the <a_1><sid_end>", "'the' is not a SID token"),
        ("<a_1> and <sid_end>", "'and' is not a SID token"),
        ("<a_1><b_1> oops", "'oops' is not a SID token"),
        ("", "no <sid_end>"),
    ],
)
def test_text_that_is_not_a_sid_says_why(text, why):
    parsed = SIDText(SIDVocab(0, (3, 5, 2))).parse(text)
    assert parsed.codes is None and why in parsed.problem

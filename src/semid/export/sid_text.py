"""SIDs as text: ``<a_12><b_7><sid_end>``, one token per code, a letter per layer, and an end token.

Layer 0 codes are ``<a_i>``, layer 1 ``<b_i>``, ..., layer 25 ``<z_i>``, then ``<aa_i>``, ``<ab_i>``, ...
(spreadsheet columns). ``<sid_end>`` closes every SID, so a short SID is never a prefix of a longer one in
text (adaptive SIDs have different lengths). The token names follow semid's SID vocabulary
(semid.retrieve.vocab): the name at position j of :func:`sid_token_names` is the SID token with local id j,
so a tokenizer that gives these names consecutive ids from ``base`` matches ``SIDVocab(base, sizes)``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from semid.retrieve.vocab import SIDVocab

SID_END = "<sid_end>"
_TOKEN = re.compile(r"<([a-z]+)_(\d+)>|<sid_end>")


def layer_name(layer: int) -> str:
    """0 -> 'a', 25 -> 'z', 26 -> 'aa', 27 -> 'ab', ..."""
    if layer < 0:
        raise ValueError(f"layer must be >= 0, got {layer}")
    name = ""
    n = layer + 1
    while n:
        n, rest = divmod(n - 1, 26)
        name = string.ascii_lowercase[rest] + name
    return name


def sid_token_names(codebook_sizes: Sequence[int]) -> list[str]:
    """Every SID token, in local id order: ``<sid_end>``, then each layer's codes."""
    names = [SID_END]
    for layer, size in enumerate(codebook_sizes):
        letter = layer_name(layer)
        names += [f"<{letter}_{code}>" for code in range(size)]
    return names


def sid_string(codes: Sequence[int]) -> str:
    """The text of one SID (its codes, layer by layer), ``<sid_end>`` included."""
    return "".join(f"<{layer_name(layer)}_{int(c)}>" for layer, c in enumerate(codes)) + SID_END


@dataclass(frozen=True)
class ParsedSID:
    """One generated SID read back: its codes, or why they could not be read (`problem`)."""

    codes: tuple[int, ...] | None
    problem: str | None = None


class SIDText:
    """Reads SIDs of one vocabulary layout back from text or from local SID-token ids (0 = end, then each
    layer's codes, as ``SIDVocab.local()``)."""

    def __init__(self, vocab: SIDVocab) -> None:
        self.vocab = vocab.local()
        self.names = sid_token_names(vocab.codebook_sizes)
        self.local_id = {name: i for i, name in enumerate(self.names)}

    def parse_local(self, local_ids: Sequence[int], shown: str) -> ParsedSID:
        """The codes of a SID given as local ids, read up to the first end token; `shown` is how the SID reads
        in a problem message."""
        codes: list[int] = []
        for local in local_ids:
            if local == 0:
                if not codes:
                    return ParsedSID(None, f"{shown}: empty SID (it starts with {SID_END})")
                return ParsedSID(tuple(codes))
            layer = len(codes)
            if layer >= len(self.vocab.codebook_sizes):
                return ParsedSID(None, f"{shown}: longer than the {len(self.vocab.codebook_sizes)} layers of the table")
            code = int(local) - self.vocab.layer_start(layer)
            if not 0 <= code < self.vocab.codebook_sizes[layer]:
                name = self.names[local] if 0 <= local < len(self.names) else f"token {local}"
                return ParsedSID(None, f"{shown}: {name} is not a layer-{layer} code (<{layer_name(layer)}_...>)")
            codes.append(code)
        return ParsedSID(None, f"{shown}: no {SID_END} (the SID is unfinished)")

    def parse(self, text: str) -> ParsedSID:
        """Read the first SID of `text`: SID tokens (whitespace between them allowed) up to ``<sid_end>``; what
        follows ``<sid_end>`` is not read. Anything else before it makes the text not a SID."""
        shown = repr(text) if len(text) <= 80 else repr(text[:77] + "...")
        local_ids: list[int] = []
        pos = 0
        for match in _TOKEN.finditer(text):
            between = text[pos : match.start()].strip()
            if between:
                return ParsedSID(None, f"{shown}: {between!r} is not a SID token")
            pos = match.end()
            if match.group(0) not in self.local_id:
                return ParsedSID(None, f"{shown}: {match.group(0)} is not a SID token of this table")
            local_ids.append(self.local_id[match.group(0)])
            if local_ids[-1] == 0:
                return self.parse_local(local_ids, shown)
        rest = text[pos:].strip()
        if rest:
            return ParsedSID(None, f"{shown}: {rest!r} is not a SID token")
        return self.parse_local(local_ids, shown)

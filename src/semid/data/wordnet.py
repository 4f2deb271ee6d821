"""WordNet 3.0 synsets as a "reverse dictionary" search dataset.

Source: the WordNet 3.0 database files ``data.{noun,verb,adj,adv}`` and ``cntlist.rev`` (Debian's
``wordnet-base`` puts them in ``/usr/share/wordnet``; ``scripts/setup.sh`` installs it).

Construction:
- items = every synset (117,659); ``item_id`` = ``<offset>-<pos>`` (pos of the data file: n, v, a, r);
  text = "lemma, lemma | is a: hypernym lemmas | lexical file" (e.g. ``noun.animal``), underscores as spaces.
- popularity = the synset's summed sense tag counts from ``cntlist.rev`` (SemCor frequencies; most are 0).
  Sense keys are rebuilt from the data files as ``lemma%ss_type:lex_filenum:lex_id``; the head word of
  an adjective satellite's key is left out of the match (lex_id already makes a lemma's sense unique in
  its lexicographer file, and cntlist.rev spells some cluster heads as older WordNet releases did).
  Keys of cntlist.rev that match no synset word are counted in meta.json (``n_unmatched_sense_keys``).
- queries = the synset's definition (its gloss up to the first quoted example) -> the synset. Synsets are
  shuffled with a fixed seed and split 80/10/10 into train/valid/test, so a test query (and its
  target's gloss) is never seen in training. Synsets without a definition get no query (counted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from semid.errors import DataError, MissingResourceError

DEFAULT_WORDNET_DIR = Path("/usr/share/wordnet")
DATA_FILES = {"n": "data.noun", "v": "data.verb", "a": "data.adj", "r": "data.adv"}
SS_TYPE_NUMBER = {"n": 1, "v": 2, "a": 3, "r": 4, "s": 5}
# The 45 lexicographer files of WordNet 3.0, by number (lexnames(5WN)).
LEXNAMES = [
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
]
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
_ADJ_MARKER = re.compile(r"\((a|p|ip)\)$")


@dataclass
class Synset:
    item_id: str
    ss_type: str
    lex_filenum: int
    words: list[tuple[str, int]]  # (lemma as written, lex_id)
    hypernyms: list[str] = field(default_factory=list)
    definition: str = ""


def _parse_line(line: str, file_pos: str, source: str, lineno: int) -> Synset:
    try:
        body, _, gloss = line.partition(" | ")
        f = body.split()
        offset, lex_filenum, ss_type = f[0], int(f[1]), f[2]
        w_cnt = int(f[3], 16)
        words = []
        i = 4
        for _ in range(w_cnt):
            words.append((_ADJ_MARKER.sub("", f[i]), int(f[i + 1], 16)))
            i += 2
        p_cnt = int(f[i])
        i += 1
        hypernyms: list[str] = []
        for _ in range(p_cnt):
            symbol, target, pos = f[i], f[i + 1], f[i + 2]
            if symbol in ("@", "@i"):
                hypernyms.append(f"{target}-{'a' if pos == 's' else pos}")
            i += 4
    except (IndexError, ValueError) as exc:
        raise DataError(f"malformed WordNet data line ({exc})", source=source, line=lineno) from None
    definition = gloss.split('"', 1)[0].strip().rstrip(";").strip()
    return Synset(f"{offset}-{file_pos}", ss_type, lex_filenum, words, hypernyms, definition)


def read_synsets(wordnet_dir: Path) -> dict[str, Synset]:
    synsets: dict[str, Synset] = {}
    for pos, fname in DATA_FILES.items():
        path = wordnet_dir / fname
        with path.open(encoding="utf-8", errors="strict") as fh:
            for lineno, line in enumerate(fh, start=1):
                if line.startswith("  "):  # licence header
                    continue
                syn = _parse_line(line.rstrip("\n"), pos, str(path), lineno)
                synsets[syn.item_id] = syn
    return synsets


def _sense_keys(syn: Synset) -> list[str]:
    """Sense keys of a synset's words, without the satellite head fields (see the module docstring)."""
    return [
        f"{lemma.lower()}%{SS_TYPE_NUMBER[syn.ss_type]}:{syn.lex_filenum:02d}:{lex_id:02d}"
        for lemma, lex_id in syn.words
    ]


def read_sense_counts(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            parts = line.split()
            if len(parts) != 3 or not parts[2].isdigit():
                raise DataError("expected 'sense_key sense_number tag_count'", source=str(path), line=lineno)
            key = ":".join(parts[0].split(":")[:3])  # drop head_word:head_id
            counts[key] = counts.get(key, 0) + int(parts[2])
    return counts


def _lemmas(syn: Synset) -> str:
    return ", ".join(w.replace("_", " ") for w, _ in syn.words)


def wordnet_items_and_queries(
    wordnet_dir: Path = DEFAULT_WORDNET_DIR, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    missing = [f for f in [*DATA_FILES.values(), "cntlist.rev"] if not (wordnet_dir / f).exists()]
    if missing:
        raise MissingResourceError(
            f"WordNet 3.0 files {missing} not found in {wordnet_dir}. Install them with "
            "`apt-get install wordnet-base` (scripts/setup.sh does this when run as root) "
            "or pass --wordnet-dir to a folder holding data.noun, data.verb, data.adj, data.adv, cntlist.rev."
        )
    synsets = read_synsets(wordnet_dir)
    counts = read_sense_counts(wordnet_dir / "cntlist.rev")
    matched: set[str] = set()
    ids, texts, pops = [], [], []
    for syn in synsets.values():
        keys = _sense_keys(syn)
        pop = 0
        for key in keys:
            if key in counts:
                pop += counts[key]
                matched.add(key)
        hyper = "; ".join(_lemmas(synsets[h]) for h in syn.hypernyms if h in synsets)
        text = _lemmas(syn) + (f" | is a: {hyper}" if hyper else "") + f" | {LEXNAMES[syn.lex_filenum]}"
        ids.append(syn.item_id)
        texts.append(text)
        pops.append(pop)
    items = pd.DataFrame({"item_id": ids, "text": texts, "popularity": np.asarray(pops, dtype=np.int64)})

    with_def = [s for s in synsets.values() if s.definition]
    order = np.random.default_rng(seed).permutation(len(with_def))
    n_train = int(SPLIT_FRACTIONS[0] * len(with_def))
    n_valid = int(SPLIT_FRACTIONS[1] * len(with_def))
    split_of = np.empty(len(with_def), dtype=object)
    split_of[order[:n_train]] = "train"
    split_of[order[n_train : n_train + n_valid]] = "valid"
    split_of[order[n_train + n_valid :]] = "test"
    queries = pd.DataFrame(
        {
            "query_id": [f"def-{s.item_id}" for s in with_def],
            "split": split_of,
            "query": [s.definition for s in with_def],
            "history": [[] for _ in with_def],
            "target": [s.item_id for s in with_def],
        }
    )
    meta = {
        "source": f"WordNet 3.0 database files in {wordnet_dir} (Debian package wordnet-base)",
        "task": f"reverse dictionary: synset definition -> synset; synsets split 80/10/10 (seed {seed})",
        "n_synsets_without_definition": len(synsets) - len(with_def),
        "n_sense_keys_in_cntlist": len(counts),
        "n_unmatched_sense_keys": len(set(counts) - matched),
        "split_seed": seed,
    }
    return items, queries, meta

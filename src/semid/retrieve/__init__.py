"""Generative retrieval: SID vocabulary, constrained beam search over the SID trie, the retriever."""

from semid.retrieve.beam import BeamResult, TrieTensors, beam_search
from semid.retrieve.vocab import SIDVocab

__all__ = ["BeamResult", "SIDVocab", "TrieTensors", "beam_search"]

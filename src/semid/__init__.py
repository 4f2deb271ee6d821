"""semid: generative retrieval with adaptive semantic IDs.

The pipeline reads top to bottom: a catalogue (`semid.data`) is embedded (`semid.embed`), a
tokenizer (`semid.tokenize`) turns vectors into variable-length codes, the SID table
(`semid.sid`) maps items to codes and back, and diagnostics tell what is wrong with the codes.
"""

from semid.errors import DataError, MissingResourceError, SemidError

__version__ = "0.1.0"
__all__ = ["DataError", "MissingResourceError", "SemidError", "__version__"]

"""Text -> vectors (bundled MiniLM or a local model), cached; collaborative vectors from a click log; and checks
for user-supplied vectors."""

from semid.embed.collaborative import CollaborativeConfig, CollaborativeVectors
from semid.embed.encoder import DEFAULT_MODEL, EncoderConfig, TextEncoder, default_model_path
from semid.embed.vectors import check_fit_vectors, check_vectors, load_vectors

__all__ = [
    "DEFAULT_MODEL",
    "CollaborativeConfig",
    "CollaborativeVectors",
    "EncoderConfig",
    "TextEncoder",
    "check_fit_vectors",
    "check_vectors",
    "default_model_path",
    "load_vectors",
]

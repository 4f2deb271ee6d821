"""HTTP serving: `create_app(retriever, ServeConfig)` and the micro-batcher behind it."""

from semid.serve.app import ServeConfig, create_app
from semid.serve.batcher import BatchConfig, MicroBatcher

__all__ = ["BatchConfig", "MicroBatcher", "ServeConfig", "create_app"]

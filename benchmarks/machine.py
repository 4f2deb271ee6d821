"""Benchmarks describe their machine with semid's own helper (also stored in `semid bench` results)."""

from semid.machine import describe

__all__ = ["describe"]

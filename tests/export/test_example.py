from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "export_hf_tiny.py"


def test_the_example_runs_and_only_names_real_items(capsys):
    example = runpy.run_path(str(EXAMPLE))  # defines the functions; __main__ does not run
    example["main"]([])
    printed = capsys.readouterr().out
    assert "exported 60 items" in printed and "'train': 180" in printed
    answers = [line for line in printed.splitlines() if "->" in line]
    assert len(answers) == 12 and all("-> ['item" in line for line in answers)

"""benchmarks/paper_claims.py: the README section written from bench folders, the rest of the README kept."""

from pathlib import Path

import pytest
from benchmarks import paper_claims

from semid.eval.bench.claims import CLAIMS

BENCH = Path(__file__).parents[1] / "benchmarks" / "results" / "bench"
TOKENIZERS = Path(__file__).parents[1] / "benchmarks" / "results" / "tokenizers_wordnet.json"


def test_the_section_replaces_its_old_self_and_keeps_the_rest():
    readme = f"# Results\n\nintro\n\n{paper_claims.HEADING}\n\nold table\n\n## Other\n\nkept\n"
    new = paper_claims.replace_section(readme, f"{paper_claims.HEADING}\n\nnew table\n")
    assert new == f"# Results\n\nintro\n\n{paper_claims.HEADING}\n\nnew table\n\n## Other\n\nkept\n"
    assert paper_claims.replace_section(new, f"{paper_claims.HEADING}\n\nnew table\n") == new  # idempotent
    appended = paper_claims.replace_section("# Results\n\nintro\n", f"{paper_claims.HEADING}\n\nx\n")
    assert appended == f"# Results\n\nintro\n\n{paper_claims.HEADING}\n\nx\n"


def test_writes_a_new_readme_then_updates_only_its_section(tmp_path, capsys):
    out = tmp_path / "bench" / "README.md"
    argv = ["--bench", str(BENCH / "movielens"), "--bench", f"wn={BENCH / 'wordnet'}", "--out", str(out)]
    argv += ["--tokenizers", f"wordnet={TOKENIZERS}"]
    assert paper_claims.main(argv) == out
    text = out.read_text()
    assert text.startswith(paper_claims.HEADER) and text.count(paper_claims.HEADING) == 1
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(CLAIMS) and table[0].endswith("| movielens | wn |")
    assert "wordnet tokenizer benchmark (117,659 items" in text
    assert paper_claims.HEADING in capsys.readouterr().out
    out.write_text(text + "\n## Notes by hand\n\nkeep me\n")
    paper_claims.main([*argv[:4], "--out", str(out), "--ranking", "exact"])
    again = out.read_text()
    assert again.endswith("## Notes by hand\n\nkeep me\n") and again.count(paper_claims.HEADING) == 1
    assert "recall read in the +exact rows" in again and "wordnet tokenizer benchmark" not in again
    # a method without +exact rows (committed movielens: rq_kmeans, run before rank exact) is "not run"
    assert "rq_kmeans+exact not run" in again


def test_two_benches_with_one_label_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="two benches labelled 'movielens'"):
        paper_claims.main(["--bench", str(BENCH / "movielens")] * 2 + ["--out", str(tmp_path / "README.md")])

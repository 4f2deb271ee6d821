"""The papers' claims, checked on finished `semid bench` folders: writes (or updates) the section "The paper's
claims, checked" of benchmarks/results/bench/README.md and prints it. No training, no measurement: it reads
results.json files (semid.eval.bench.claims holds the paper's figures, claim_checks the rule).

    .venv/bin/python -m benchmarks.paper_claims --bench movielens=/work/bench-full-ml --bench wordnet=/work/bench-wn
    .venv/bin/python -m benchmarks.paper_claims --bench /work/bench-cos --out /tmp/README.md --ranking exact \\
        --tokenizers movielens=benchmarks/results/tokenizers_movielens.json

--bench LABEL=FOLDER (a bench folder or its results.json; LABEL defaults to the bench's dataset) once per
dataset, each a column of the table. --ranking exact reads the `<method>+exact` rows for recall (the same
beams' items ranked by item vector); Hallu and Ret-Per do not depend on it. --tokenizers LABEL=JSON adds the
code lengths per depth budget of a tokenizer benchmark (one fit each) under the table. The rest of the
README is kept; a missing README is created with a short header.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from semid.eval.bench import BenchResults
from semid.eval.bench.claim_checks import (
    RULE,
    Ranking,
    check_claims,
    claims_table,
    dataset_notes,
    tokenizer_notes,
)
from semid.eval.bench.claims import CLAIMS, HEAD_MARGIN, HEADLINE, HOURGLASS, LOOSE_BUDGET, SA2CRQ

README = Path("benchmarks/results/bench/README.md")
HEADING = "## The paper's claims, checked"
HEADER = (
    "# semid bench results\n\n"
    "One folder per dataset, each the output of `semid bench`: results.json (every method, seed, test-target "
    "group and metric), results.md (the table: mean ± 95% CI over seeds) and report.html (the figures). The "
    "section below is written from those results.json files by `python -m benchmarks.paper_claims`.\n"
)
MAPPING = (
    f"Which bench method stands for which of the papers' ({SA2CRQ}, {HOURGLASS}): the paper's tau of 5e-7, "
    "1e-6 and 2e-6 on 5M items is 2.5, 5 and 10 items under a prefix, i.e. sa2crq_m3, sa2crq_m5 and "
    f"sa2crq_m10 here; the headline SA²CRQ (tau = 2e-6) is {HEADLINE}, the loosest budget {LOOSE_BUDGET}, and "
    "the bench's sarq (min_items 5) is the paper's SARQ at tau = 1e-6. The paper builds SARQ, ACRQ and SA²CRQ "
    "on an RQ-VAE; the bench's quantise by residual k-means (TIGER is the RQ-VAE), so against rq_kmeans the "
    "quantizer is the same and against tiger it is not. The paper's backbone is Qwen3-1.7B on 5M items; ours "
    "is a small decoder trained on CPU on thousands of items: directions can be compared, sizes cannot. A "
    "method that returns fewer than K items is scored on what it returns, so R@K also rewards a larger "
    "Ret-Per (in the paper's Table 1 as here)."
)


def _pair(text: str) -> tuple[str | None, Path]:
    label, sep, path = text.rpartition("=")
    return (label if sep else None), Path(path)


def arguments(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", type=_pair, action="append", required=True, help="[LABEL=]bench folder, per dataset")
    ap.add_argument("--tokenizers", type=_pair, action="append", default=[], help="LABEL=tokenizers_*.json")
    ap.add_argument("--ranking", choices=["beam", "exact"], default="beam", help="recall from beam order or +exact")
    ap.add_argument("--out", type=Path, default=README, help="the README whose section is written")
    return ap.parse_args(argv)


def section(argv: list[str], args: argparse.Namespace) -> str:
    """The section's Markdown, from the benches and tokenizer results the arguments name."""
    benches: dict[str, BenchResults] = {}
    sources: dict[str, Path] = {}
    for label, path in args.bench:
        results = BenchResults.load(path)
        name = label or results.dataset
        if name in benches:
            raise SystemExit(f"--bench: two benches labelled {name!r}; name them LABEL=FOLDER")
        benches[name], sources[name] = results, path
    ranking: Ranking = args.ranking
    checks = check_claims(benches, CLAIMS, ranking)
    notes = [n for name, r in benches.items() for n in dataset_notes(name, r, str(sources[name]))]
    for label, path in args.tokenizers:
        notes += tokenizer_notes(label or path.stem, json.loads(path.read_text(encoding="utf-8")))
    command = shlex.join(["python", "-m", "benchmarks.paper_claims", *argv])
    order = "beam order" if ranking == "beam" else "the +exact rows (beams' items ranked by item vector)"
    lines = [
        HEADING,
        "",
        f"Written by `{command}` from the bench folders below; recall read in {order}. Per claim: the paper's "
        "figure and where it is, then per dataset our figure: the mean over seeds of the per-seed paired "
        "difference (×: ratio) between the two methods [95% CI, Student t], the two methods' means, and the "
        "verdict.",
        "",
        RULE.format(margin=HEAD_MARGIN),
        "",
        MAPPING,
        "",
        claims_table(checks, CLAIMS).rstrip("\n"),
        "",
        *(f"- {note}" for note in notes),
    ]
    return "\n".join(lines) + "\n"


def replace_section(readme: str, text: str) -> str:
    """`readme` with its HEADING section (up to the next level-2 heading) replaced by `text`, or with `text`
    appended when it has none."""
    lines = readme.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip() == HEADING]
    if not starts:
        return readme.rstrip("\n") + "\n\n" + text
    start = starts[0]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rest = "".join(lines[end:])
    return "".join(lines[:start]) + text + ("\n" + rest if rest else "")


def main(argv: list[str] | None = None) -> Path:
    """Write the section into --out (created with a header when missing), print it; the README's path."""
    argv = sys.argv[1:] if argv is None else argv
    args = arguments(argv)
    text = section(argv, args)
    out: Path = args.out
    readme = out.read_text(encoding="utf-8") if out.exists() else HEADER
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(replace_section(readme, text), encoding="utf-8")
    print(text)
    return out


if __name__ == "__main__":
    main()

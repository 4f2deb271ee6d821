"""The two HTML reports as a person sees them: opened in headless Chromium, their tables are real tables (no
Markdown left as text), every figure decodes to an image, the page is not blank, and numbers that do not
exist (the head items of an all-tail catalogue) read n/a, not 0."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from semid.cli import app
from semid.eval.bench import BenchResults
from semid.sid import SIDTable
from semid.tokenize import Codes
from tests.helpers import runner


def _working_chromium() -> str | None:
    """A Chromium that starts (Ubuntu's chromium-browser can be a snap stub that only says how to install)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            try:
                done = subprocess.run([path, "--version"], capture_output=True, timeout=30, check=False)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if done.returncode == 0:
                return path
    return None


CHROMIUM = _working_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (scripts/setup.sh installs it as root: apt-get install chromium)"
)
# the old T5 wordnet bench table (dense, SA²CRQ depth budgets, 3 seeds), frozen: the committed tables move on
T5_WORDNET = Path(__file__).parent / "assets" / "bench_t5_wordnet"
BENCH_MINILM = Path(__file__).parents[1] / "benchmarks" / "results" / "bench_minilm"
# Run in the page once it has loaded: what the browser decoded and what a reader sees as text.
PROBE = (
    "<script>window.addEventListener('load', () => document.body.setAttribute('data-probe', JSON.stringify({"
    "images: [...document.images].map(i => [i.naturalWidth, i.naturalHeight]), text: document.body.innerText})));"
    "</script>"
)


def chromium(page: Path, *args: str) -> str:
    """Headless Chromium on `page` with a fresh profile and nothing that reaches the network; its stdout."""
    profile = page.parent / f"chromium-profile-{len(list(page.parent.glob('chromium-profile-*')))}"
    flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
    flags += "--disable-component-update --disable-sync --hide-scrollbars --disable-dev-shm-usage"
    cmd = [str(CHROMIUM), *flags.split(), f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Page(HTMLParser):
    """The tables (rows of (tag, text) cells, <strong> marked with **), images and probe of a dumped DOM."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.tables: list[list[list[tuple[str, str]]]] = []
        self.images: list[str] = []
        self.probe: dict = {}
        self._cell: list[str] | None = None
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "strong" and self._cell is not None:
            self._cell.append("**")
        elif tag == "img":
            self.images.append(a.get("src") or "")
        elif tag == "body" and a.get("data-probe"):
            self.probe = json.loads(a["data-probe"] or "{}")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append((tag, " ".join("".join(self._cell).split())))  # no-break spaces too
            self._cell = None
        elif tag == "strong" and self._cell is not None:
            self._cell.append("**")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def open_in_browser(html_file: Path) -> tuple[Page, Path]:
    """The page's DOM after load (with the probe's findings) and a screenshot of its first 1280x1400 pixels."""
    probed = html_file.with_name("probed-" + html_file.name)
    probed.write_text(html_file.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    shot = html_file.with_suffix(".png")
    return Page(chromium(probed, "--dump-dom", f"--screenshot={shot}", "--window-size=1280,1400")), shot


def assert_seen_right(page: Page, shot: Path, n_figures: int) -> None:
    """Figures decoded by the browser and as PNGs, Markdown not left as text, the screenshot not blank."""
    assert len(page.probe["images"]) == len(page.images) == n_figures
    for (width, height), src in zip(page.probe["images"], page.images, strict=True):
        assert width > 200 and height > 200
        assert src.startswith("data:image/png;base64,")
        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("L"))
        assert pixels.std() > 5  # a plot, not an empty canvas
    text = page.probe["text"]
    assert "|---" not in text and "**" not in text and "<td" not in text and "&lt;" not in text
    screenshot = np.asarray(Image.open(shot).convert("RGB"))
    assert screenshot.shape == (1400, 1280, 3)
    assert len(np.unique(screenshot.reshape(-1, 3), axis=0)) > 50  # text, table lines, a figure: not one colour


def column(table: list[list[tuple[str, str]]], name: str) -> list[str]:
    i = [text for _, text in table[0]].index(name)
    return [row[i][1] for row in table[1:]]


def test_bench_report_shows_a_table_and_figures(tmp_path):
    results = BenchResults.load(T5_WORDNET)
    results.dataset = "wordnet <b>&"  # escaped in title and heading, never markup
    page, shot = open_in_browser(results.save(tmp_path)["report.html"])
    assert_seen_right(page, shot, n_figures=4)  # sa2crq_m3/m5/m10: the depth-budget figure too
    table = page.tables[0]
    assert [(tag, text) for tag, text in table[0]] == [
        ("th", h) for h in ["method", "seeds", *(results._label(f"{s}:{m}") for s, m in results.table_columns())]
    ]
    assert [row[0][1] for row in table[1:]] == list(results.methods)
    assert all(len(row) == len(table[0]) for row in table)
    dense = dict(zip(column(table, "method"), column(table, "R@10"), strict=True))["dense"]
    assert dense == "**0.8067**"  # the best value stays bold
    assert "0.0022 ± 0.0048" in column(table, "R@10")  # mean ± CI, one cell
    config = next(t for t in page.tables[1:] if t[0][0][1] == "dataset")
    assert config[0][1][1] == '"wordnet"'
    assert page.probe["text"].startswith("semid bench: wordnet <b>&")


def test_bench_report_shows_training_per_epoch_when_epoch_times_were_kept(tmp_path):
    results = BenchResults.load(BENCH_MINILM / "movielens_collaborative_4epochs")
    page, shot = open_in_browser(results.save(tmp_path)["report.html"])
    assert_seen_right(page, shot, n_figures=4)  # recall@K, head/tail/cold, SID lengths and time to quality
    assert "Time to quality" in page.probe["text"]
    epochs = next(t for t in page.tables if [text for _, text in t[0][:3]] == ["method", "seeds", "epochs"])
    assert column(epochs, "method") == ["rq_kmeans", "rq_kmeans_top32"]  # generative only, no +exact copy
    assert column(epochs, "epochs") == ["4", "4"] and column(epochs, "best epoch") == ["3, 3, 2", "4, 3, 4"]


def test_diagnose_of_an_all_tail_catalogue_says_na_for_head(tmp_path):
    codes = Codes.from_lists([[k % 4, k % 3] for k in range(60)] + [[1]], n_layers=2)
    ids = [f"i{k}" for k in range(codes.n_items)]
    SIDTable.build(ids, codes, [4, 4], is_head=np.zeros(codes.n_items, dtype=bool)).save(tmp_path / "table")
    res = runner.invoke(app, ["diagnose", str(tmp_path / "table"), "--out", str(tmp_path / "diag")])
    assert res.exit_code == 0, res.output
    assert "head n/a: no head items" in " ".join(res.output.split())
    assert json.loads((tmp_path / "diag" / "diagnostics.json").read_text())["length"]["head"]["mean"] is None

    page, shot = open_in_browser(tmp_path / "diag" / "report.html")
    assert_seen_right(page, shot, n_figures=4)
    assert "mean code length 1.98 (head n/a: no head items, tail 1.98)" in page.probe["text"]
    assert "head 0.00" not in page.probe["text"]
    sids, layers = page.tables[0], page.tables[1]
    assert column(sids, "part") == ["all", "head", "tail"]  # the SA²CRQ paper's Table 2 columns, by part
    assert column(sids, "#SID") == ["13", "0", "13"] and column(sids, "mean")[1] == "n/a"
    assert len(layers) == 1 + 2 and column(layers, "layer") == ["1", "2"]
    assert column(layers, "fan out mean")[-1] == "n/a"  # the last layer has no next layer

"""The bulletin as a reader sees it: generated from a small real run, opened in headless Chromium.

The table's cells must equal results.json (value and formatting), clicking a header must sort the rows, and the
benchmark page must show each flagged entry with its evidence snippet. Skipped, with the reason, when Chromium or
Playwright is missing.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from browser import launch, requires_chromium

import fmsearch
from contamination import bulletin

pytestmark = [requires_chromium]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    rng = random.Random(11)
    words = "north south river stone lamp quiet paper green seven answer".split()

    def text(n: int) -> str:
        return " ".join(rng.choice(words) + str(rng.randrange(1000)) for _ in range(n))

    docs = [text(50) for _ in range(10)]
    fmsearch.build_index([{"text": d, "source": f"doc{i}"} for i, d in enumerate(docs)], root / "idx")
    fmsearch.build_index([text(50) for _ in range(10)], root / "idx2")
    benches = {}
    for name, n_dirty in (("Alpha", 1), ("Beta", 4), ("Gamma", 2), ("Delta", 0)):
        rows = [{"q": docs[i][:150]} for i in range(n_dirty)]
        rows += [{"q": "zz " + text(20)} for _ in range(5 - n_dirty)]
        path = root / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        benches[name] = path
    config = root / "bulletin.json"
    config.write_text(
        json.dumps(
            {
                "title": "Browser test",
                "corpora": [{"name": "one", "index": str(root / "idx")}, {"name": "two", "index": str(root / "idx2")}],
                "benchmarks": [
                    {"name": n, "jsonl": str(p), "field": "q", "category": c}
                    for (n, p), c in zip(benches.items(), ["x", "y", "x", "z"], strict=True)
                ],
            }
        )
    )
    out = root / "site"
    bulletin.build_bulletin(config, out)
    return out


@pytest.fixture(scope="module")
def browser():
    yield from launch()


def _table(page) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        "#rates tbody tr",
        """rows => rows.map(r => {
            const out = {benchmark: r.dataset.benchmark};
            r.querySelectorAll('td[data-corpus]').forEach(td => {
                out[td.dataset.corpus] = td.textContent.trim();
                out[td.dataset.corpus + ':value'] = td.dataset.value;
            });
            out.entries = r.cells[3].textContent.trim();
            return out;
        })""",
    )


def test_table_equals_results_json_and_sorts(site: Path, browser) -> None:
    results = json.loads((site / "results.json").read_text())
    page = browser.new_page()
    page.goto((site / "index.html").as_uri())
    rows = _table(page)
    assert [r["benchmark"] for r in rows] == [b["name"] for b in results["benchmarks"]]
    for row, b in zip(rows, results["benchmarks"], strict=True):
        assert row["entries"] == str(b["entries"])
        for corpus in ("one", "two"):
            pct = b["results"][corpus]["dirty_pct"]
            assert row[corpus] == f"{pct:.1f}%"
            assert float(row[f"{corpus}:value"]) == pct
    # Planted: Beta has 4 of 5 entries copied from corpus one.
    assert next(r for r in rows if r["benchmark"] == "Beta")["one"] == "80.0%"

    header = page.locator("#rates th", has_text="one dirty %")
    header.click()
    asc = [float(r["one:value"]) for r in _table(page)]
    assert asc == sorted(asc) and asc[0] < asc[-1]
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    desc = [r["benchmark"] for r in _table(page)]
    assert desc[0] == "Beta" and desc[-1] == "Delta"
    page.locator("#rates th", has_text="benchmark").click()
    assert [r["benchmark"] for r in _table(page)] == ["Alpha", "Beta", "Delta", "Gamma"]
    for needle in ("Definition.", "window length 50", "fmsearch", "built"):
        assert needle in page.inner_text("body")
    page.close()


def test_benchmark_page_shows_evidence(site: Path, browser) -> None:
    results = json.loads((site / "results.json").read_text())
    beta = next(b for b in results["benchmarks"] if b["name"] == "Beta")
    page = browser.new_page()
    page.goto((site / "index.html").as_uri())
    page.click("text=Beta")
    assert page.url.endswith("benchmarks/beta.html")
    marks = page.eval_on_selector_all("table.flagged[data-corpus='one'] mark", "ms => ms.map(m => m.textContent)")
    assert marks == [f["evidence"]["window"] for f in beta["flagged"]["one"]]
    assert len(marks) == 4
    summary = page.inner_text("#summary")
    assert "80.0%" in summary
    assert "every entry is clean" in page.inner_text("body")  # corpus two has none flagged
    page.close()

"""Writing the bulletin site from a results document: jinja2 templates, a matplotlib chart, JSON, CSV, Markdown."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from contamination.windows import VERDICTS

CSV_COLUMNS = (
    "benchmark",
    "category",
    "section",
    "corpus",
    "entries",
    "clean",
    "suspicious",
    "dirty",
    "clean_pct",
    "suspicious_pct",
    "dirty_pct",
    "short",
    "mean_eta",
)


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["human_bytes"] = human_bytes
    env.filters["rate_colour"] = rate_colour
    return env


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n} B"


def rate_colour(pct: float) -> str:
    """Background for a dirty %: green at 0, through yellow, to red at 50 % and above."""
    hue = max(0.0, 120.0 * (1.0 - min(pct, 50.0) / 50.0))
    return f"hsl({hue:.0f}, 70%, 82%)"


def _write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def csv_text(results: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for b in results["benchmarks"]:
        for corpus, r in b["results"].items():
            w.writerow([b["name"], b["category"], b["section"], corpus, *(r[c] for c in CSV_COLUMNS[4:])])
    return buf.getvalue()


def chart_png(results: dict[str, Any]) -> bytes:
    """Grouped horizontal bars: dirty % (solid) and suspicious % (light, stacked) per benchmark and corpus."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benches = [b for b in results["benchmarks"] if b["results"]]
    corpora = [c["name"] for c in results["corpora"]]
    height = max(2.5, 0.5 + 0.45 * len(benches) * max(1, len(corpora)))
    fig, ax = plt.subplots(figsize=(8, height), dpi=110)
    bar = 0.8 / max(1, len(corpora))
    colours = plt.get_cmap("tab10")
    for j, corpus in enumerate(corpora):
        ys = [i + j * bar for i in range(len(benches))]
        dirty = [b["results"][corpus]["dirty_pct"] for b in benches]
        susp = [b["results"][corpus]["suspicious_pct"] for b in benches]
        ax.barh(ys, dirty, height=bar, color=colours(j), label=f"{corpus}: dirty")
        ax.barh(ys, susp, left=dirty, height=bar, color=colours(j), alpha=0.35, label=f"{corpus}: suspicious")
    ax.set_yticks([i + bar * (len(corpora) - 1) / 2 for i in range(len(benches))])
    ax.set_yticklabels([b["name"] for b in benches])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of entries")
    ax.set_title("Contamination rate (dirty %) and suspicious % per benchmark and corpus")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def summary_md(results: dict[str, Any]) -> str:
    corpora = [c["name"] for c in results["corpora"]]
    lines = [
        f"# {results['title']}",
        "",
        f"Generated {results['generated']} by {results['tool']['name']} {results['tool']['version']}.",
        "",
        f"**Definition.** {results['definition']}",
        "",
        "**Parameters.** " + ", ".join(f"{k} = {v}" for k, v in results["params"].items()),
        "",
        "**Corpora.**",
        "",
    ]
    for c in results["corpora"]:
        lines.append(f"- {c['name']}: {c['documents']:,} documents, {human_bytes(c['bytes'])}, built {c['built']}")
    lines += [
        "",
        "| benchmark | category | entries | " + " | ".join(f"{c} dirty % (susp. %)" for c in corpora) + " |",
        "|---|---|---|" + "---|" * len(corpora),
    ]
    for b in results["benchmarks"]:
        if b["error"]:
            lines.append(f"| {b['name']} | {b['category']} | not scored: {b['error']} |" + " |" * len(corpora))
            continue
        cells = [f"{b['results'][c]['dirty_pct']:.1f} ({b['results'][c]['suspicious_pct']:.1f})" for c in corpora]
        lines.append(f"| {b['name']} | {b['category']} | {b['entries']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_site(results: dict[str, Any], out: Path) -> None:
    """index.html, benchmarks/<slug>.html, rates.png, results.json, results.csv, summary.md under `out`."""
    out = Path(out)
    env = _env()
    common = {"r": results, "corpora": results["corpora"], "verdicts": VERDICTS}
    _write(out / "results.json", json.dumps(results, indent=1, ensure_ascii=False))
    _write(out / "results.csv", csv_text(results))
    _write(out / "summary.md", summary_md(results))
    _write(out / "rates.png", chart_png(results))
    _write(out / "index.html", env.get_template("index.html").render(**common, root=""))
    for b in results["benchmarks"]:
        page = env.get_template("benchmark.html").render(**common, b=b, root="../")
        _write(out / "benchmarks" / f"{b['slug']}.html", page)

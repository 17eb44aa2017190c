"""Corpora that tests write to disk: random words (with multibyte UTF-8 and an empty document) in JSON lines."""

from __future__ import annotations

import json
import random
from pathlib import Path


def two_file_corpus(
    root: Path, *, seed: int, vocab: int, words: tuple[int, int], docs: int, first_file: int
) -> dict[str, object]:
    """`docs` documents of random words split over a.jsonl (the first `first_file`) and b.jsonl, so that shards span
    a file border and ids run on across files. Returns the source paths, the texts and `root`."""
    rng = random.Random(seed)
    words_list = ["".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randint(2, 8))) for _ in range(vocab)]
    words_list += ["zebra", "日本語", "ünïcode"]
    texts = [" ".join(rng.choices(words_list, k=rng.randint(*words))) for _ in range(docs)]
    texts[0] = ""
    for name, part in (("a.jsonl", texts[:first_file]), ("b.jsonl", texts[first_file:])):
        with open(root / name, "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"text": t, "n": i}) + "\n" for i, t in enumerate(part))
    return {"sources": [str(root / "a.jsonl"), str(root / "b.jsonl")], "texts": texts, "root": root}

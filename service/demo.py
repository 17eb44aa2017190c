"""The demo's serving step: start the search service on 127.0.0.1, ask it a few questions over HTTP, stop it.

    python -m service.demo [INDEX_DIR]      # default demo-out/stdlib, built by `python -m fmsearch.demo`

To keep it running instead: `fmsearch serve demo-out/stdlib` and open http://127.0.0.1:8000/ in a browser.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from rich.console import Console

from service.main import create_app
from service.settings import ServiceSettings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    console = Console()
    index = Path((argv or sys.argv[1:] or ["demo-out/stdlib"])[0])
    if not (index / "manifest.json").is_file() and not (index / "catalog.json").is_file():
        console.print(f"[red]error:[/] {index} is not an index; build it first with `python -m fmsearch.demo`")
        return 2
    port = _free_port()
    app = create_app(ServiceSettings(indexes={"stdlib": [str(index)]}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                console.print("[red]error:[/] the service did not start; run `fmsearch serve` to see why")
                return 1
            time.sleep(0.05)
        console.rule(f"[bold]Serving {index} at {base} (loopback only)")
        with httpx.Client(base_url=base, timeout=30) as client:
            for query in ("def __init__(self", "import numpy"):
                answer = client.post("/v1/count", json={"index": "stdlib", "query": query}).json()
                count, ms = answer["count"], answer["latency_ms"]
                console.print(f"POST /v1/count {query!r:24} -> count {count:>6,}  ({ms:.2f} ms)")
            answer = client.post("/v1/search", json={"index": "stdlib", "query": "Guido", "limit": 1, "context": 40})
            found = answer.json()
            hit = found["hits"][0]
            where = hit.get("metadata", {}).get("path", f"doc {hit['doc_id']}")
            console.print(f"POST /v1/search 'Guido'              -> {found['total']} hits; first in {where}")
            refused = client.post("/v1/count", json={"index": "stdlib", "query": ""})
            console.print(f"POST /v1/count '' -> HTTP {refused.status_code}: {refused.json()['error']}")
        console.print(f"Keep it running: fmsearch serve {index}   then open http://127.0.0.1:8000/")
        return 0
    finally:
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    sys.exit(main())

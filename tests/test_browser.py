"""The search page in a real browser: headless Debian Chromium driven by Playwright loads the page from a uvicorn
server on 127.0.0.1, counts a string and searches documents; the shown numbers and the highlight are checked against
tests/naive.py."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from browser import launch, requires_chromium
from naive import NaiveIndex

import fmsearch

DOCS = [
    {"text": "Alice was beginning to get very tired of sitting by her sister", "title": "alice"},
    {"text": "the rabbit-hole went straight on like a tunnel; tired Alice fell", "title": "rabbit"},
    {"text": "Ελληνικά: λόγος — and Alice again, not tired", "title": "greek"},
]
ORACLE = NaiveIndex([d["text"] for d in DOCS])

pytestmark = requires_chromium


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from service.main import create_app
    from service.settings import ServiceSettings

    root = tmp_path_factory.mktemp("browser")
    fmsearch.build_index(DOCS[:2], root / "s0")
    fmsearch.build_index(DOCS[2:], root / "s1")
    app = create_app(ServiceSettings(indexes={"books": [str(root / "s0"), str(root / "s1")]}))
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300  # startup warms the kernels: on a fresh install they compile first (~40 s)
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page(server):
    for browser in launch():
        pg = browser.new_page()
        pg.goto(server + "/", wait_until="load")  # a browser asks for text/html: the page, by negotiation
        pg.wait_for_selector("body[data-ready='1']", state="attached", timeout=15000)
        yield pg


def test_page_lists_the_corpus(page):
    assert page.eval_on_selector("#index", "el => el.value") == "books"
    assert "3 documents" in page.inner_text("#index-info") and "2 shards" in page.inner_text("#index-info")


def test_count_shows_the_exact_number_and_latency(page):
    page.fill("#count-query", "tired")
    page.click("#count-button")
    page.wait_for_selector("#count-value")
    assert page.get_attribute("#count-value", "data-count") == str(ORACLE.count("tired")) == "3"
    assert page.inner_text("#count-value") == "3"
    assert page.inner_text("#count-latency").endswith(" ms")


def test_search_shows_hits_with_highlighted_match(page):
    page.fill("#search-query", "Alice")
    page.fill("#context", "20")  # the slider
    page.click("#search-button")
    page.wait_for_selector("#search-total")
    assert page.get_attribute("#search-total", "data-total") == str(ORACLE.count("Alice")) == "3"
    items = page.query_selector_all("#hits li")
    assert len(items) == 3
    marks = page.query_selector_all("#hits li mark")
    assert [m.inner_text() for m in marks] == ["Alice"] * 3
    shown = {int(li.get_attribute("data-doc-id")) for li in items}
    assert shown == {doc for doc, _ in ORACLE.find("Alice")}
    greek = page.inner_text("#hits li[data-doc-id='2']")
    assert "λόγος" in greek and "greek" in greek  # snippet text and metadata


def test_error_is_shown_not_swallowed(page):
    page.fill("#count-query", "")
    page.click("#count-button")
    page.wait_for_selector("#error:not([hidden])")
    assert "empty" in page.inner_text("#error")


def test_benchmark_item_panel_shows_verdict_and_evidence(page):
    try:
        import contamination.scoring  # noqa: F401
    except ImportError:
        pytest.skip("package contamination is not there: the page hides the panel")
    assert page.is_visible("#contamination-panel")
    page.fill("#contamination-text", DOCS[0]["text"])
    page.click("#contamination-button")
    page.wait_for_selector("#verdict")
    assert page.inner_text("#verdict") in ("suspicious", "dirty")
    assert page.inner_text("#contamination-result mark")  # the evidence window, highlighted in its document

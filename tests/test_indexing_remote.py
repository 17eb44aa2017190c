"""`fmsearch index --out URL` and `fmsearch fetch`: a catalog on a file:// URL, on S3 (moto on 127.0.0.1) and on
fsspec's in-memory store answers like the oracle once fetched, and its shards equal a local build of the same corpus
(content checksums); reruns skip intact shards and rebuild exactly the damaged or unpublished ones; bad URLs give
one clear error.

The S3 server is moto's, in this process, on 127.0.0.1 and a free port, with fake credentials in the environment
(set before Ray starts, so that its workers inherit them); no request leaves the machine's loopback.
"""

from __future__ import annotations

import os
import threading

import pytest
from corpora import two_file_corpus
from naive import NaiveIndex
from typer.testing import CliRunner

import fmsearch
from fmsearch import storage
from fmsearch.build import METADATA_ARRAYS
from fmsearch.catalog import read_catalog
from fmsearch.errors import ChecksumMismatch, IndexExists, IndexFormatError, InputError
from fmsearch.index import INDEX_ARRAYS
from indexing import remote
from indexing.cli import register
from indexing.job import published_problem, run_job
from indexing.ray_local import init_local_ray

# The files a shard's manifest lists: every array of the written format, and the metadata arrays.
FILES_PER_SHARD = len(INDEX_ARRAYS[storage.FORMAT_VERSION]) + len(METADATA_ARRAYS)

SHARD_BYTES = 300_000  # the corpus holds about 1.1 MB of text: 4 shards
BUCKET = "fmsearch-test"
QUERIES = ["zebra", "日本", "ünï", "zebra zebra", "abc", "p a", "xyzzy"]
runner = CliRunner()


def _app():
    import typer

    app = typer.Typer()
    register(app)
    return app


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("remotecorpus")
    return two_file_corpus(root, seed=11, vocab=2000, words=(20, 600), docs=600, first_file=250)


@pytest.fixture(scope="module")
def local_build(corpus):
    """The same corpus indexed into a local directory: the reference for the content checksums."""
    out = corpus["root"] / "local"
    result = run_job(corpus["sources"], out, shard_size=SHARD_BYTES, use_ray=False)
    assert len(result.built) == 4
    return [s["content_xxh3_128"] for s in read_catalog(out)["shards"]]


def _fix_complete_multipart(app):
    """moto 5.2 answers CompleteMultipartUpload with a <CompleteMultipartUploadResponse> root element; the AWS SDK in
    pyarrow 26 insists on the documented <CompleteMultipartUploadResult> and retries until it gives up. Rename it
    on the way out (only for that request), so that pyarrow's uploads work against moto."""

    def wrapped(environ, start_response):
        if environ["REQUEST_METHOD"] != "POST" or "uploadId=" not in environ.get("QUERY_STRING", ""):
            return app(environ, start_response)
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(app(environ, capture))
        body = body.replace(b"CompleteMultipartUploadResponse", b"CompleteMultipartUploadResult")
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in captured["headers"]]
        start_response(captured["status"], headers)
        return [body]

    return wrapped


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    pytest.importorskip("moto.server")
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    nowhere = str(tmp_path_factory.mktemp("aws") / "none")
    with pytest.MonkeyPatch.context() as env:
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            env.delenv(key)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_REGION", "us-east-1")
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask 169.254.169.254 for credentials or a region
        env.setenv("AWS_CONFIG_FILE", nowhere)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", nowhere)
        app = _fix_complete_multipart(DomainDispatcherApplication(create_backend_app))
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        endpoint = f"127.0.0.1:{server.server_port}"
        import pyarrow.fs as pafs

        admin, _ = pafs.FileSystem.from_uri(
            f"s3://{BUCKET}?endpoint_override={endpoint}&scheme=http&allow_bucket_creation=true"
        )
        admin.create_dir(BUCKET)

        def url(prefix: str, bucket: str = BUCKET) -> str:
            return f"s3://{bucket}/{prefix}?endpoint_override={endpoint}&scheme=http"

        yield {"url": url, "fs": admin, "endpoint": endpoint}
        server.shutdown()


@pytest.fixture(scope="module")
def ray_session(s3):
    # After `s3`: the workers the raylet starts inherit the fake credentials set there.
    ray = pytest.importorskip("ray")
    init_local_ray(2, logging_level="warning")
    yield ray
    ray.shutdown()


def _content(catalog: dict) -> list[str]:
    return [s["content_xxh3_128"] for s in catalog["shards"]]


def _answers_like_the_oracle(path, texts) -> None:
    idx = fmsearch.open_index(path)
    oracle = NaiveIndex(texts)
    assert idx.num_documents == len(texts) and idx.num_bytes == oracle.num_bytes
    for query in QUERIES:
        assert idx.count(query) == oracle.count(query), query
        pairs = [(h.doc_id, h.offset) for h in idx.find(query, limit=10**7).hits]
        assert len(pairs) == len(set(pairs)) and set(pairs) == oracle.find(query), query
    for doc_id in [0, 1, 249, 250, len(texts) - 1, *idx.first_doc_ids]:
        assert idx.document(doc_id).text == texts[doc_id]
    assert idx.document(251).metadata["n"] == 1


# -- file:// --------------------------------------------------------------------------------------------------------


def test_file_url_on_ray_fetches_to_a_catalog_equal_to_a_local_build(ray_session, corpus, local_build, tmp_path):
    url = f"file://{tmp_path}/store/cat"
    result = run_job(corpus["sources"], url, shard_size=SHARD_BYTES)
    assert len(result.built) == 4 and all(o.node.startswith("ray node") for o in result.shards)
    assert result.path == url
    assert _content(remote.open_store(url).read_catalog()) == local_build
    fetched = remote.fetch(url, tmp_path / "copy")
    assert (fetched.kind, fetched.num_shards, fetched.num_files) == ("catalog", 4, 4 * FILES_PER_SHARD)
    assert _content(read_catalog(tmp_path / "copy")) == local_build
    _answers_like_the_oracle(tmp_path / "copy", corpus["texts"])
    # The local scratch directories of the builds are gone.
    assert not list((tmp_path / "store" / "cat").rglob(".*tmp-*"))


def test_interrupted_upload_leaves_an_unpublished_shard_and_no_scratch(corpus, tmp_path, monkeypatch):
    import tempfile

    from indexing.job import build_shard
    from indexing.plan import read_plan

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    url = f"file://{tmp_path}/cat"
    run_job([corpus["sources"][0]], url, shard_size=10**7, use_ray=False)
    assert list(scratch.iterdir()) == []
    shard_dir = tmp_path / "cat" / "shards" / "shard-00000"
    before = {p.name: p.read_bytes() for p in shard_dir.iterdir()}
    shard = read_plan(tmp_path / "cat")["corpora"][0]["shards"][0]
    store = remote.open_store(url)
    store.delete_file("shards/shard-00000/manifest.json")  # as if a rebuild had begun
    assert published_problem(store, shard) == "missing"

    real_upload = remote.RemoteDir.upload
    uploads: list[str] = []

    def failing_upload(self, local, rel):
        uploads.append(rel)
        if len(uploads) == 6:
            raise remote.StoreError(f"{self.label(rel)}: uploading failed (simulated)")
        real_upload(self, local, rel)

    deletes: list[tuple[str, str]] = []
    real_delete_file, real_delete_dir = remote.RemoteDir.delete_file, remote.RemoteDir.delete_dir

    def spy_delete_file(self, rel):
        deletes.append(("file", rel))
        real_delete_file(self, rel)

    def spy_delete_dir(self, rel):
        deletes.append(("dir", rel))
        real_delete_dir(self, rel)

    monkeypatch.setattr(remote.RemoteDir, "upload", failing_upload)
    monkeypatch.setattr(remote.RemoteDir, "delete_file", spy_delete_file)
    monkeypatch.setattr(remote.RemoteDir, "delete_dir", spy_delete_dir)
    with pytest.raises(remote.StoreError, match="simulated"):
        build_shard(shard, url, "text", False)
    # The rebuild removed the old objects before uploading anything, the manifest first.
    assert deletes == [("file", "shards/shard-00000/manifest.json"), ("dir", "shards/shard-00000")]
    # Five array files arrived, the manifest did not: the shard is not published, and the scratch build is gone.
    assert len(list(shard_dir.iterdir())) == 5 and not (shard_dir / "manifest.json").exists()
    assert published_problem(store, shard) == "missing"
    assert list(scratch.iterdir()) == []
    monkeypatch.setattr(remote.RemoteDir, "upload", real_upload)
    uploads.clear()
    result = run_job([corpus["sources"][0]], url, shard_size=10**7, use_ray=False)
    assert result.built == ["shard-00000"]
    after = {p.name: p.read_bytes() for p in shard_dir.iterdir()}
    assert after.keys() == before.keys()
    assert all(after[name] == before[name] for name in after if name != "manifest.json")
    assert list(scratch.iterdir()) == []


# -- S3 (moto on loopback) ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_catalog(s3, corpus, local_build):
    """The corpus indexed serially (no Ray) to S3."""
    url = s3["url"]("serial/cat")
    result = run_job(corpus["sources"], url, shard_size=SHARD_BYTES, use_ray=False)
    assert len(result.built) == 4
    return {"url": url, "prefix": f"{BUCKET}/serial/cat"}


def _manifest_stamps(s3, prefix: str) -> dict[str, object]:
    import pyarrow.fs as pafs

    infos = s3["fs"].get_file_info(pafs.FileSelector(prefix, recursive=True))
    return {i.path: i.mtime for i in infos if i.path.endswith("/manifest.json")}


def test_s3_serial_build_equals_local_and_a_rerun_skips_every_shard(s3, s3_catalog, corpus, local_build):
    store = remote.open_store(s3_catalog["url"])
    assert _content(store.read_catalog()) == local_build
    assert store.exists("plan.json") and store.exists("catalog.json")
    stamps = _manifest_stamps(s3, s3_catalog["prefix"])
    assert len(stamps) == 4
    result = run_job(corpus["sources"], s3_catalog["url"], shard_size=SHARD_BYTES, use_ray=False)
    assert result.built == [] and len(result.skipped) == 4
    assert _manifest_stamps(s3, s3_catalog["prefix"]) == stamps


def test_s3_overwritten_or_deleted_object_rebuilds_only_its_shard(s3, s3_catalog, corpus, local_build):
    fs, prefix = s3["fs"], s3_catalog["prefix"]
    victim = f"{prefix}/shards/shard-00001/doc_starts.bin"
    with fs.open_input_stream(victim) as f:
        data = bytearray(f.read())
    data[70] ^= 0xFF  # same size, other content: only the hash can tell
    with fs.open_output_stream(victim) as f:
        f.write(bytes(data))
    fs.delete_file(f"{prefix}/shards/shard-00002/levels.bin")
    store = remote.open_store(s3_catalog["url"])
    problems = store.verify_shard("shards/shard-00001")
    assert len(problems) == 1 and "doc_starts.bin: checksum mismatch" in problems[0]
    assert problems[0].startswith(f"s3://{prefix}/shards/shard-00001/") and "endpoint_override" not in problems[0]
    assert store.verify_shard("shards/shard-00002")[0].endswith("levels.bin: missing")
    result = run_job(corpus["sources"], s3_catalog["url"], shard_size=SHARD_BYTES, use_ray=False)
    assert result.built == ["shard-00001", "shard-00002"]
    assert sorted(result.skipped) == ["shard-00000", "shard-00003"]
    assert {o.name: o.status for o in result.shards}["shard-00001"] == "rebuilt"
    assert _content(store.read_catalog()) == local_build
    assert store.verify_shard("shards/shard-00001") == [] and store.verify_shard("shards/shard-00002") == []


def test_s3_shard_without_manifest_is_not_published(s3, s3_catalog, corpus, local_build, tmp_path):
    fs, prefix = s3["fs"], s3_catalog["prefix"]
    fs.delete_file(f"{prefix}/shards/shard-00003/manifest.json")
    store = remote.open_store(s3_catalog["url"])
    shards = store.read_plan()["corpora"][0]["shards"]
    assert published_problem(store, shards[3]) == "missing"
    assert published_problem(store, shards[0]) is None
    # catalog.json still lists it: a fetch now stops, names the shard and leaves nothing behind.
    with pytest.raises(IndexFormatError, match=r"shard-00003: not an fmsearch index \(no manifest.json\)"):
        remote.fetch(s3_catalog["url"], tmp_path / "copy")
    assert not (tmp_path / "copy").exists() and list(tmp_path.iterdir()) == []
    result = run_job(corpus["sources"], s3_catalog["url"], shard_size=SHARD_BYTES, use_ray=False)
    assert result.built == ["shard-00003"] and len(result.skipped) == 3
    assert _content(store.read_catalog()) == local_build


def test_s3_fetch_answers_like_the_oracle_and_checks_every_file(s3, s3_catalog, corpus, tmp_path):
    fetched = remote.fetch(s3_catalog["url"], tmp_path / "copy")
    assert fetched.num_files == 4 * FILES_PER_SHARD and fetched.num_bytes == sum(
        (tmp_path / "copy" / "shards" / s / f).stat().st_size
        for s in ("shard-00000", "shard-00001", "shard-00002", "shard-00003")
        for f in os.listdir(tmp_path / "copy" / "shards" / s)
        if f.endswith(".bin")
    )
    _answers_like_the_oracle(tmp_path / "copy", corpus["texts"])
    with pytest.raises(IndexExists):
        remote.fetch(s3_catalog["url"], tmp_path / "copy")
    # One shard alone.
    shard_url = s3["url"]("serial/cat/shards/shard-00002")
    one = remote.fetch(shard_url, tmp_path / "one")
    assert one.kind == "shard"
    idx = fmsearch.open_index(tmp_path / "one")
    whole = fmsearch.open_index(tmp_path / "copy")
    assert idx.num_documents == whole.shards[2].num_documents and idx.count("zebra") == whole.shards[2].count("zebra")
    # A damaged object on the store stops the fetch with the file's name; nothing is left behind.
    fs, victim = s3["fs"], f"{s3_catalog['prefix']}/shards/shard-00000/offsets.bin"
    with fs.open_input_stream(victim) as f:
        good = f.read()
    try:
        with fs.open_output_stream(victim) as f:
            f.write(good[:-1] + bytes([good[-1] ^ 1]))
        expected = "shard-00000/offsets.bin: checksum mismatch.*rerun `fmsearch index`"
        with pytest.raises(ChecksumMismatch, match=expected):
            remote.fetch(s3_catalog["url"], tmp_path / "bad")
        assert not (tmp_path / "bad").exists()
    finally:
        with fs.open_output_stream(victim) as f:
            f.write(good)


def test_s3_on_ray_then_a_rerun_skips_everything(ray_session, s3, corpus, local_build, tmp_path):
    url = s3["url"]("ray/cat")
    result = run_job(corpus["sources"], url, shard_size=SHARD_BYTES)
    assert len(result.built) == 4 and all(o.node.startswith("ray node") for o in result.shards)
    store = remote.open_store(url)
    assert _content(store.read_catalog()) == local_build
    again = run_job(corpus["sources"], url, shard_size=SHARD_BYTES)
    assert again.built == [] and len(again.skipped) == 4
    remote.fetch(url, tmp_path / "copy")
    _answers_like_the_oracle(tmp_path / "copy", corpus["texts"])


def test_cli_index_catalog_and_fetch_with_an_s3_url(s3, corpus, tmp_path):
    url = s3["url"]("cli/cat")
    args = ["index", corpus["sources"][0], "--out", url, "--shard-size", "150KB", "--no-ray"]
    result = runner.invoke(_app(), args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "shard-00000" in result.output and "built" in result.output
    listing = runner.invoke(_app(), ["catalog", url], env={"COLUMNS": "200"})
    assert listing.exit_code == 0, listing.output
    assert "shard-00000" in listing.output and "shard-00001" in listing.output and "total" in listing.output
    fetched = runner.invoke(_app(), ["fetch", url, str(tmp_path / "copy")], env={"COLUMNS": "200"})
    assert fetched.exit_code == 0, fetched.output
    assert "fetched catalog" in fetched.output and "every file checked" in fetched.output
    idx = fmsearch.open_index(tmp_path / "copy")
    assert idx.num_documents == 250 and len(idx.shards) > 1
    assert idx.count("zebra") == NaiveIndex(corpus["texts"][:250]).count("zebra")


def test_s3_append_adds_shards_and_never_rewrites_the_existing_ones(s3, corpus, tmp_path):
    url, prefix = s3["url"]("append/cat"), f"{BUCKET}/append/cat"
    first, second = corpus["sources"]
    run_job([first], url, shard_size=SHARD_BYTES, use_ray=False)
    before = _manifest_stamps(s3, prefix)
    with pytest.raises(InputError, match="--append"):
        run_job([second], url, shard_size=SHARD_BYTES, use_ray=False)
    result = run_job([second], url, shard_size=SHARD_BYTES, use_ray=False, append=True)
    assert result.built and not set(result.built) & {p.split("/")[-2] for p in before}
    after = _manifest_stamps(s3, prefix)
    assert {p: after[p] for p in before} == before  # the first corpus's shards were not touched
    remote.fetch(url, tmp_path / "copy")
    idx = fmsearch.open_index(tmp_path / "copy")
    oracle = NaiveIndex(corpus["texts"])  # ids run on: the second file's documents follow the first's
    assert idx.num_documents == len(corpus["texts"])
    assert [idx.count(q) for q in QUERIES] == [oracle.count(q) for q in QUERIES]
    last = len(corpus["texts"]) - 1
    assert idx.document(last).text == corpus["texts"][last]


# -- fsspec fallback ------------------------------------------------------------------------------------------------


def test_memory_url_goes_through_fsspec(corpus, tmp_path):
    pytest.importorskip("fsspec")
    url = f"memory://fmsearch-test-{os.getpid()}/cat"
    store = remote.open_store(url)
    assert store.fs.type_name.startswith("py::fsspec")
    result = run_job([corpus["sources"][0]], url, shard_size=10**7, use_ray=False)
    assert len(result.built) == 1
    remote.fetch(url, tmp_path / "copy")
    idx = fmsearch.open_index(tmp_path / "copy")
    oracle = NaiveIndex(corpus["texts"][:250])
    assert idx.num_documents == 250 and [idx.count(q) for q in QUERIES] == [oracle.count(q) for q in QUERIES]


# -- bad URLs -------------------------------------------------------------------------------------------------------


def test_unknown_scheme_and_missing_bucket_are_clear_errors(s3, corpus, tmp_path):
    with pytest.raises(InputError, match=r"foo://x/cat: unknown storage scheme 'foo'"):
        run_job(corpus["sources"], "foo://x/cat", use_ray=False)
    url = s3["url"]("cat", bucket="no-such-bucket")
    with pytest.raises(InputError, match=r"bucket 'no-such-bucket' does not exist.*create it first") as e:
        run_job(corpus["sources"], url, use_ray=False)
    assert "endpoint_override" not in str(e.value)  # the query (where S3 URLs may carry keys) is never shown
    with pytest.raises(InputError, match=r"not a valid storage URL.*Unexpected query parameter"):
        remote.open_store(s3["url"]("cat") + "&colour=blue")
    with pytest.raises(IndexFormatError, match=r"holds neither catalog.json nor manifest.json"):
        remote.fetch(s3["url"]("nothing/here"), tmp_path / "copy")
    for args in (
        ["index", corpus["sources"][0], "--out", "foo://x/cat", "--no-ray"],
        ["index", corpus["sources"][0], "--out", url, "--no-ray"],
        ["catalog", url],
        ["fetch", url, str(tmp_path / "copy")],
        ["fetch", s3["url"]("nothing/here"), str(tmp_path / "copy")],
    ):
        result = runner.invoke(_app(), args, env={"COLUMNS": "200"})
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("error: ") and "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "copy").exists()


def test_unreachable_store_names_what_to_check(s3):  # s3: its fake credentials, so the SDK asks nobody else
    # Port 1 on loopback: nothing listens, the connection is refused at once (the SDK retries a few times).
    with pytest.raises(InputError, match=r"cannot reach the store .* credentials in the environment"):
        remote.open_store("s3://bucket/cat?endpoint_override=127.0.0.1:1&scheme=http")

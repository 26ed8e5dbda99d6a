from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, shared_data
from topics.cli.main import main
from topics.config import DataConfig
from topics.data.corpus import load_corpus
from topics.data.datasets.archive import iter_members
from topics.data.datasets.fetch import ARCHIVES, fetch
from topics.data.datasets.newsgroups import clean_post
from topics.data.datasets.reuters import read_unused
from topics.data.splits import split_indices
from topics.errors import DataError
from topics.run.cache import load_corpus_from_config, split_kwargs


def shipped_data_config(name: str, **overrides: object) -> DataConfig:
    raw = yaml.safe_load((REPO / "configs" / "data" / f"{name}.yaml").read_text())
    root = shared_data()
    return DataConfig(**{**raw, "root": str(root), **overrides})


@pytest.mark.data
def test_nyt_cap_four_label_task_from_yaml() -> None:
    shared_data("nyt-cap")
    config = shipped_data_config("nyt-cap")
    corpus = load_corpus_from_config(config)
    assert len(corpus) == 31034
    train, test = split_indices(corpus, **split_kwargs(config.split, seed=0))
    assert (len(train), len(test)) == (23584, 7450)
    years = [int(y) for y in corpus.meta["year"]]
    assert max(years[i] for i in train) == 2003 and min(years[i] for i in test) == 2004
    positives = corpus.subset(test).label_matrix().sum(axis=0).tolist()
    assert positives == [467, 1340, 280, 150]  # economy, defense, human rights, transport
    assert any("\u2019" in text for text in corpus.texts)  # Mac Roman 0xD5 decoded


@pytest.mark.data
def test_reuters_modapte_90_categories() -> None:
    shared_data("reuters21578/reuters21578.tar.gz")
    config = shipped_data_config("reuters21578")
    corpus = load_corpus_from_config(config)
    train, test = split_indices(corpus, **split_kwargs(config.split, seed=0))
    assert (len(train), len(test)) == (7770, 3019)
    assert len(corpus.label_names) == 90
    matrix = corpus.label_matrix()
    assert (matrix[train].sum(axis=0) > 0).all() and (matrix[test].sum(axis=0) > 0).all()
    assert int(matrix[train, corpus.label_names.index("earn")].sum()) == 2877
    assert corpus.texts[0].startswith("BAHIA COCOA REVIEW. Showers continued")


@pytest.mark.data
def test_newsgroups_bydate_single_label() -> None:
    shared_data("20newsgroups/20news-bydate.tar.gz")
    config = shipped_data_config("20newsgroups")
    corpus = load_corpus_from_config(config)
    train, test = split_indices(corpus, **split_kwargs(config.split, seed=0))
    assert (len(train), len(test)) == (11314, 7532)
    assert set(corpus.ids[i].split("/")[0] for i in train) == {"train"}
    assert {len(labels) for labels in corpus.labels} == {1}
    counts = Counter(corpus.labels[i][0] for i in test)
    assert counts["alt.atheism"] == 319 and counts["talk.religion.misc"] == 251
    assert corpus.texts[0].startswith("From:")


@pytest.mark.data
def test_newsgroups_remove_strips_headers_footers_quotes() -> None:
    shared_data("20newsgroups/20news-bydate.tar.gz")
    config = shipped_data_config("20newsgroups", remove=["headers", "footers", "quotes"])
    corpus = load_corpus_from_config(config)
    assert not any(text.startswith("From:") for text in corpus.texts[:200])
    assert not any(line.startswith(">") for text in corpus.texts[:200] for line in text.split("\n"))


def test_clean_post_follows_sklearn_rules() -> None:
    post = "From: a@b\nSubject: x\n\nIn article <1> c writes:\n> quoted\nmy answer\n\n--\nsig line"
    assert clean_post(post, ["headers"]).startswith("In article")
    cleaned = clean_post(post, ["headers", "footers", "quotes"])
    assert cleaned == "my answer\n"


def _tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


@pytest.mark.parametrize("bad", ["../../x", "/etc/passwd", "a/../../b"])
def test_archive_refuses_members_outside_the_target(tmp_path: Path, bad: str) -> None:
    archive = _tarball(tmp_path / "evil.tar.gz", {"ok/file": b"1", bad: b"2"})
    with pytest.raises(DataError, match="outside the target"):
        list(iter_members(archive))


def test_reuters_reader_on_a_tiny_archive(tmp_path: Path) -> None:
    sgml = (
        '<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" NEWID="1"><TOPICS><D>grain</D><D>corn</D>'
        "</TOPICS><TEXT><TITLE>CORN UP</TITLE><BODY>Corn &lt;rose&gt; today.\x03</BODY></TEXT>"
        '</REUTERS>\n<REUTERS TOPICS="NO" LEWISSPLIT="TRAIN" NEWID="2"><TEXT>x</TEXT></REUTERS>\n'
        '<REUTERS TOPICS="YES" LEWISSPLIT="TEST" NEWID="3"><TOPICS><D>grain</D></TOPICS>'
        '<TEXT TYPE="BRIEF"><TITLE>GRAIN BRIEF</TITLE></TEXT></REUTERS>'
    ).encode("latin-1")
    archive = _tarball(tmp_path / "reuters21578.tar.gz", {"reut2-000.sgm": sgml})
    corpus = load_corpus(archive, labels=["grain", "corn"], split_field="split")
    assert corpus.ids == ["1", "3"]
    assert corpus.texts == ["CORN UP. Corn <rose> today.", "GRAIN BRIEF"]
    assert corpus.labels == [("grain", "corn"), ("grain",)]
    assert corpus.meta["split"] == ["train", "test"]


def test_reuters_unused_stories_leave_out_modapte_and_the_test_years(tmp_path: Path) -> None:
    story = (
        '<REUTERS TOPICS="{}" LEWISSPLIT="{}" NEWID="{}"><TOPICS><D>grain</D></TOPICS>'
        "<TEXT>story {}</TEXT></REUTERS>\n"
    )
    attrs = [("YES", "TRAIN"), ("NO", "TRAIN"), ("BYPASS", "TRAIN"), ("YES", "NOT-USED")]
    attrs += [("NO", "TEST"), ("YES", "TEST")]
    sgml = "".join(story.format(t, s, n, n) for n, (t, s) in enumerate(attrs)).encode("latin-1")
    archive = _tarball(tmp_path / "reuters21578.tar.gz", {"reut2-000.sgm": sgml})
    assert read_unused(archive) == ["story 1", "story 2", "story 3"]
    assert load_corpus(archive, labels=["grain"]).texts == ["story 0", "story 5"]


# --- data fetch against a local HTTP server --------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A local HTTP server on 127.0.0.1 serving the shared archive (or a stand-in)."""
    shared = Path(str(shared_data())) / "20newsgroups" / "20news-bydate.tar.gz"
    folder = tmp_path / "www"
    folder.mkdir()
    (folder / "20news.tar.gz").write_bytes(shared.read_bytes())
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    digest = hashlib.sha256(shared.read_bytes()).hexdigest()
    try:
        yield f"http://127.0.0.1:{server.server_port}/20news.tar.gz", digest
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.data
def test_fetch_downloads_and_checks_sha256(tmp_path: Path, served: tuple[str, str]) -> None:
    url, digest = served
    root = tmp_path / "data"
    path = fetch("20newsgroups", root, url=url, sha256=digest)
    assert path == root / ARCHIVES["20newsgroups"].relative_path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    config = DataConfig(
        path="20newsgroups/20news-bydate.tar.gz",
        root=str(root),
        encoding="latin-1",
        labels=["sci.med"],
    )
    assert len(load_corpus_from_config(config)) == 18846


@pytest.mark.data
def test_fetch_wrong_checksum_saves_nothing(
    tmp_path: Path, served: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _digest = served
    root = tmp_path / "data"
    code = main(["data", "fetch", "20newsgroups", "--root", str(root), "--url", url,
                 "--sha256", "0" * 64])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("topics: error: ") and "sha256 mismatch" in err
    assert err.count("\n") == 1
    assert not any(p.is_file() for p in root.rglob("*"))


def test_fetch_unknown_name_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "fetch", "imagenet", "--root", str(tmp_path)]) == 2
    assert "expected one of ['20newsgroups', 'reuters21578']" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("notaurl", "found no scheme"),
        ("ftp://example.org/x.tar.gz", "found ftp://"),
        ("http://[::1", "found an unreadable URL"),
        ("file:///nonexistent/x.tar.gz", "cannot download file:///nonexistent/x.tar.gz"),
    ],
    ids=["not-a-url", "ftp", "unparsable", "missing-file"],
)
def test_fetch_url_notaurl_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, found: str
) -> None:
    """``--url notaurl`` used to end in a ValueError traceback."""
    assert main(["data", "fetch", "20newsgroups", "--root", str(tmp_path), "--url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("topics: error: ") and found in err and err.count("\n") == 1
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_every_dataset_is_checked_by_sha256(tmp_path: Path) -> None:
    """Reuters was checked by MD5 only."""
    for entry in ARCHIVES.values():
        assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0
    stand_in = tmp_path / "reuters21578.tar.gz"
    stand_in.write_bytes(b"not the archive")
    with pytest.raises(
        DataError, match=f"sha256 mismatch, expected {ARCHIVES['reuters21578'].sha256}"
    ):
        fetch("reuters21578", tmp_path / "data", url=stand_in.as_uri())
    assert not any(p.is_file() for p in (tmp_path / "data").rglob("*"))


class _NoLengthHandler(http.server.BaseHTTPRequestHandler):
    """Serves 300 KB without a Content-Length header (the body ends when the connection does)."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        for _ in range(300):
            self.wfile.write(b"x" * 1024)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_download_over_the_size_cap_saves_nothing(tmp_path: Path) -> None:
    """Downloads had no size limit; now one over the cap stops and nothing is kept."""
    big = tmp_path / "big.tar.gz"
    big.write_bytes(b"x" * 300_000)
    root = tmp_path / "data"
    # Declared too large (file:// sends Content-Length): refused before reading.
    with pytest.raises(
        DataError, match=r"the download is 300,000 bytes, over the 100,000-byte cap"
    ):
        fetch("20newsgroups", root, url=big.as_uri(), max_bytes=100_000)
    # No length declared: stopped once the bytes pass the cap.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoLengthHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/big.tar.gz"
        with pytest.raises(
            DataError, match=r"the download is over 100,000 bytes, over the 100,000-byte cap"
        ):
            fetch("20newsgroups", root, url=url, max_bytes=100_000)
    finally:
        server.shutdown()
        server.server_close()
    assert not any(p.is_file() for p in root.rglob("*"))

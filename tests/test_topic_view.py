"""The report's interactive topic view: map, relevance pool, page data and its safety."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from topics.evaluate.topic_view import (
    SUFFIX,
    intertopic_coordinates,
    jensen_shannon,
    principal_coordinates,
    read_topic_view,
    relevance,
    relevance_pool,
    render_topic_views,
    representative_documents,
    script_json,
    topic_view_data,
    write_topic_view,
)

HOSTILE = '</script><script>document.title="pwned"</script><!-- & \u2028'


def random_topics(num_topics: int, num_terms: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(num_terms, 0.05), size=num_topics)


def test_jensen_shannon_is_symmetric_bounded_and_zero_on_the_diagonal() -> None:
    p = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    divergence = jensen_shannon(p)
    assert np.allclose(divergence, divergence.T) and np.allclose(np.diag(divergence), 0)
    assert divergence[0, 1] == pytest.approx(np.log(2))  # disjoint supports: the maximum
    # JSD(delta_0, (1/2, 1/2)) = H(mix) - (H(p) + H(q)) / 2 with mix = (3/4, 1/4)
    mix = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert divergence[0, 2] == pytest.approx(mix - np.log(2) / 2)


def test_principal_coordinates_recover_a_planar_layout() -> None:
    points = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [1.0, 1.0], [-2.0, 0.5]])
    distance = np.linalg.norm(points[:, None] - points[None, :], axis=-1)
    xy = principal_coordinates(distance)
    drawn = np.linalg.norm(xy[:, None] - xy[None, :], axis=-1)
    assert xy.shape == (5, 2) and np.allclose(drawn, distance, atol=1e-9)
    assert np.allclose(xy.mean(axis=0), 0, atol=1e-12)  # centred


def test_intertopic_map_puts_similar_topics_closer() -> None:
    p = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    xy = intertopic_coordinates(p)
    drawn = np.linalg.norm(xy[:, None] - xy[None, :], axis=-1)
    assert drawn[0, 2] < drawn[0, 1] and drawn[0, 2] < drawn[0, 3]
    assert np.array_equal(xy, intertopic_coordinates(p))  # same model, same map


def test_intertopic_coordinates_of_two_topics_lie_on_one_axis() -> None:
    xy = intertopic_coordinates(np.array([[0.9, 0.1], [0.1, 0.9]]))
    assert xy.shape == (2, 2) and np.allclose(xy[:, 1], 0)
    assert abs(xy[0, 0] - xy[1, 0]) == pytest.approx(jensen_shannon(np.eye(2) * 0.8 + 0.1)[0, 1])


def test_relevance_pool_holds_the_exact_top_terms_for_every_lambda() -> None:
    topic_term = random_topics(4, 400, seed=3)
    term_share = np.random.default_rng(4).dirichlet(np.ones(400))
    log_term = np.log(term_share)
    for row in np.log(topic_term):
        pool = set(relevance_pool(row, log_term, 30).tolist())
        # A fine lambda grid, off the pool's own grid: the top 30 is always in the pool.
        for lam in np.linspace(0, 1, 997):
            top = np.argsort(-relevance(row, log_term, lam), kind="stable")[:30]
            assert set(top.tolist()) <= pool, lam
        assert 30 <= len(pool) < 400  # a pool, not the vocabulary


def test_topic_view_data_ships_names_sizes_and_three_documents() -> None:
    topic_term = random_topics(3, 50)
    documents = [[(f"doc {k}-{i} " + "x" * 300, 0.9 - i / 10) for i in range(5)] for k in range(3)]
    data = topic_view_data(
        topic_term,
        [f"w{i}" for i in range(50)],
        np.arange(1, 51),
        [2, 1, 1],
        names=["rail", "ports", "tax"],
        documents=documents,
        model="lda",
    )
    assert [t["name"] for t in data["topics"]] == ["rail", "ports", "tax"]
    assert [t["share"] for t in data["topics"]] == [0.5, 0.25, 0.25]
    assert all(len(t["documents"]) == 3 for t in data["topics"])
    first = data["topics"][0]["documents"][0]
    assert first["text"].startswith("doc 0-0 ") and len(first["text"]) == 201  # 200 + "…"
    assert first["weight"] == 0.9
    # The page ranks the shipped pool; that ranking is the full vocabulary's top terms.
    log_term = np.log(np.arange(1, 51) / np.arange(1, 51).sum())
    for k, topic in enumerate(data["topics"]):
        for lam in (0.0, 0.37, 0.6, 1.0):
            page = sorted(
                zip(topic["terms"], topic["log_probs"], strict=True),
                key=lambda t: -(lam * t[1] + (1 - lam) * (t[1] - data["log_term_share"][t[0]])),
            )
            log_topic = np.log(np.maximum(topic_term[k], np.finfo(float).tiny))
            full = np.argsort(-relevance(log_topic, log_term, lam), kind="stable")
            shown = [data["terms"][i] for i, _ in page[:10]]
            assert shown == [f"w{i}" for i in full[:10]], (k, lam)


def test_topic_view_names_default_to_topic_k() -> None:
    data = topic_view_data(random_topics(2, 10), list("abcdefghij"), np.ones(10), [1, 1])
    assert [t["name"] for t in data["topics"]] == ["topic 0", "topic 1"]
    assert all(t["documents"] == [] for t in data["topics"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"topic_term": np.ones((3, 4))}, "rows of p(w|k)"),
        ({"topic_term": np.full((1, 4), 0.25)}, "K >= 2"),
        ({"terms": ["a", "b"]}, "terms: expected 4"),
        ({"term_frequency": np.ones(3)}, "term_frequency: expected 4"),
        ({"term_frequency": np.zeros(4)}, "some positive counts"),
        ({"prevalence": [1.0, -1.0, 1.0]}, "prevalence: expected 3"),
        ({"names": ["a"]}, "names: expected 3"),
        ({"documents": [[("d", 1.0)]]}, "documents: expected 3"),
        ({"top_n": 0}, "top_n: expected an int >= 1"),
    ],
    ids=[
        "rows-not-normalised",
        "one-topic",
        "terms-length",
        "frequency-length",
        "frequency-all-zero",
        "negative-prevalence",
        "names-length",
        "documents-length",
        "no-terms-listed",
    ],
)
def test_topic_view_data_rejects_wrong_input(change: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "topic_term": np.full((3, 4), 0.25),
        "terms": list("abcd"),
        "term_frequency": np.ones(4),
        "prevalence": np.ones(3),
        **change,
    }
    with pytest.raises(ValueError, match=re.escape(message)):
        topic_view_data(**arguments)  # type: ignore[arg-type]


def test_representative_documents_are_each_topics_heaviest() -> None:
    theta = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    docs = representative_documents(theta, ["a", "b", "c", "d"], count=3)
    assert docs == [[("a", 0.9), ("c", 0.6), ("d", 0.5)], [("b", 0.8), ("d", 0.5), ("c", 0.4)]]


def test_script_json_cannot_close_the_script_block() -> None:
    text = script_json({"t": HOSTILE})
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text) == {"t": HOSTILE}


def test_rendered_view_survives_a_hostile_document_title() -> None:
    documents = [[(HOSTILE, 0.9)], [("plain", 0.8)]]
    names = ['<img src=x onerror="alert(1)">', "ok"]
    data = topic_view_data(
        random_topics(2, 20), [f"t{i}" for i in range(20)], np.ones(20), [1, 3], names, documents
    )
    page = render_topic_views([data])
    assert HOSTILE not in page and "<img" not in page
    assert page.count("</script>") == 2  # the data block and the view's own script
    block = re.search(r'<script type="application/json" class="tv-data">(.*?)</script>', page)
    assert block is not None
    assert json.loads(block.group(1))["topics"][0]["documents"][0]["text"] == " ".join(
        HOSTILE.split()
    )
    assert page.count('class="tv-topic"') == 2 and page.count("<circle") == 2


def test_no_views_render_nothing() -> None:
    assert render_topic_views([]) == ""


def test_saved_view_round_trips_and_is_checked(tmp_path: Path) -> None:
    data = topic_view_data(random_topics(2, 10), list("abcdefghij"), np.ones(10), [1, 1])
    path = write_topic_view(tmp_path / f"lda{SUFFIX}", data)
    assert read_topic_view(path) == data
    path.write_text(json.dumps({"format": "something else"}), encoding="utf-8")
    with pytest.raises(ValueError, match="expected a topics.topic_view version 1 file"):
        read_topic_view(path)


def test_lda_feeds_the_view_its_terms_token_shares_and_heaviest_documents() -> None:
    from tests.conftest import TINY_ARTICLES
    from topics.data.corpus import Corpus
    from topics.evaluate.topic_report import lda_topic_view
    from topics.families.lda.model import LdaTopics

    articles = TINY_ARTICLES * 2
    train = Corpus(
        ids=[f"{doc_id}-{i}" for i, (doc_id, _, _) in enumerate(articles)],
        texts=[text for _, text, _ in articles],
        labels=[tuple(labels) for _, _, labels in articles],
        label_names=("economy", "defense", "human rights", "transport"),
    )
    lda = LdaTopics(num_topics=3, iterations=100, no_below=1, no_above=0.9, random_state=3)
    theta = lda.fit(train.texts).transform(train.texts)
    data = lda_topic_view(lda, train, theta)

    assert data["model"] == "lda" and len(data["topics"]) == 3
    assert [t["name"] for t in data["topics"]] == lda.topic_names_
    lengths = np.array([counts.sum() for _, counts in lda.bows(train.texts)])
    expected = lengths @ theta / lengths.sum()  # each topic's share of the tokens
    assert [t["share"] for t in data["topics"]] == pytest.approx(expected, abs=1e-6)
    for k, topic in enumerate(data["topics"]):
        heaviest = int(np.argmax(theta[:, k]))
        assert len(topic["documents"]) == 3
        assert topic["documents"][0]["text"].startswith(f"{train.ids[heaviest]}: ")
        assert set(lda.top_words_[k][:5]) <= {data["terms"][i] for i in topic["terms"]}


def test_report_shows_every_saved_topic_view_before_the_topic_table(tmp_path: Path) -> None:
    from topics.evaluate.report import write_report
    from topics.evaluate.run_metrics import RunMetrics

    data = topic_view_data(random_topics(4, 12), list("abcdefghijkl"), np.ones(12), np.ones(4))
    write_topic_view(tmp_path / "plots" / f"lda{SUFFIX}", {**data, "model": "lda"})
    write_topic_view(tmp_path / "plots" / f"other{SUFFIX}", {**data, "model": "other"})
    (tmp_path / "plots" / f"broken{SUFFIX}").write_text("{", encoding="utf-8")
    page = write_report(tmp_path, RunMetrics(), ["economy"], "views").read_text()
    assert page.count('class="topic-view"') == 2 and page.count("<circle") == 8
    assert "lda: intertopic distance map" in page and "other: intertopic distance map" in page
    assert "Topic view not shown" in page  # the broken file is named, the page still written
    assert page.count("(function ()") == 1  # one script drives every view
    assert page.index('class="topic-view"') < page.index("No model bundle.")


def test_circle_areas_follow_topic_sizes_and_fit_the_map() -> None:
    shares = np.array([8.0, 4.0, 2.0, 1.0] * 10)
    data = topic_view_data(random_topics(40, 60), [f"t{i}" for i in range(60)], np.ones(60), shares)
    page = render_topic_views([data])
    circles = re.findall(r'data-topic="(\d+)".*?cx="([\d.]+)" cy="([\d.]+)" r="([\d.]+)"', page)
    radius = {int(k): float(r) for k, _, _, r in circles}
    assert len(radius) == 40
    # area ~ share: the radius of a topic twice as big is sqrt(2) times larger
    assert radius[0] / radius[1] == pytest.approx(np.sqrt(2), rel=0.01)
    assert radius[0] / radius[3] == pytest.approx(np.sqrt(8), rel=0.01)
    for _, cx, cy, r in circles:  # every circle inside the map
        assert float(r) <= float(cx) <= 420 - float(r) and float(r) <= float(cy) <= 420 - float(r)

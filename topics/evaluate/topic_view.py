"""The interactive topic view of ``report.html``: an intertopic map and a term panel.

Model-agnostic: the input is plain arrays (a row-normalised topic-term matrix, the
terms, their overall frequency, the topic prevalence, optional names and up to three
representative documents per topic), so any topic family can feed it.

- :func:`topic_view_data` computes, in numpy, the map (Jensen-Shannon divergence
  between topics, then classical multidimensional scaling to 2-D, as LDAvis does)
  and the pool of terms the page may rank; the result is a small JSON-able dict
  that a run saves beside its plots (:func:`write_topic_view`).
- :func:`render_topic_views` turns saved views into one HTML fragment: the map as
  inline SVG (drawn without JavaScript too), the data in a
  ``<script type="application/json">`` block, and a short script (no library, no
  CDN: the page still opens from disk) that shows a clicked topic's terms ranked by
  relevance, ``lambda * log p(w|k) + (1 - lambda) * log(p(w|k) / p(w))``, with a
  slider for lambda, the topic's size and its representative documents.

A hand-written SVG/JS view weighs a few tens of KB for K=50, where plotly's inlined
JS alone is ~4.8 MB (see ``benchmarks/results/topic_view.md``).

>>> import numpy as np
>>> topic_term = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]])
>>> data = topic_view_data(topic_term, ["rail", "port", "tax"], [5, 4, 5], [0.5, 0.5])
>>> [t["name"] for t in data["topics"]]
['topic 0', 'topic 1']
>>> "<svg" in render_topic_views([data])
True
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "topics.topic_view"
VERSION = 1
SUFFIX = "_topic_view.json"  # plots/<model>_topic_view.json, one per topic family
TOP_TERMS = 30
DEFAULT_LAMBDA = 0.6
# lambda = 0, 0.01, ..., 1: the breakpoints of the pool's bound. A finer grid ships
# fewer terms (K=50 on 20 Newsgroups: 11 points ~470 per topic; see the benchmark).
LAMBDA_GRID = 101
MAX_DOCUMENTS = 3
SNIPPET = 200
MAP_SIZE = 420
MAX_RADIUS = 50
MIN_RADIUS = 4

Document = tuple[str, float]  # (title or first characters, weight of the topic in it)


def topic_view_data(
    topic_term: Any,
    terms: Sequence[str],
    term_frequency: Any,
    prevalence: Any,
    names: Sequence[str] | None = None,
    documents: Sequence[Sequence[Document]] | None = None,
    *,
    model: str = "topics",
    top_n: int = TOP_TERMS,
) -> dict[str, Any]:
    """Everything the page needs for one topic model, as a JSON-able dict.

    Parameters
    ----------
    topic_term : array of shape (K, V)
        ``p(w|k)``: each row a distribution over the terms (rows sum to 1).
    terms : sequence of str, length V
        The term of every column.
    term_frequency : array of shape (V,)
        Each term's count (or share) in the corpus: ``p(w)`` for relevance.
    prevalence : array of shape (K,)
        Each topic's share of the corpus (normalised here); sizes the circles.
    names : sequence of K str or None
        Topic names; None gives ``"topic k"``.
    documents : K sequences of (text, weight) or None
        The most representative documents of each topic (the first 3 are kept,
        each cut to its first 200 characters).
    model : str
        Which model the view shows (``"lda"``), for the heading.
    top_n : int
        Terms listed per topic.
    """
    matrix, frequency, shares = _checked(topic_term, terms, term_frequency, prevalence)
    num_topics = matrix.shape[0]
    names = [f"topic {k}" for k in range(num_topics)] if names is None else list(names)
    if len(names) != num_topics:
        raise ValueError(f"names: expected {num_topics} (one per topic), found {len(names)}")
    if documents is not None and len(documents) != num_topics:
        raise ValueError(
            f"documents: expected {num_topics} lists (one per topic), found {len(documents)}"
        )
    log_term = np.log(frequency / frequency.sum())
    log_topic = np.log(np.maximum(matrix, np.finfo(float).tiny))
    pools = [relevance_pool(row, log_term, top_n) for row in log_topic]
    used = np.unique(np.concatenate(pools))
    position = {int(v): i for i, v in enumerate(used)}
    xy = intertopic_coordinates(matrix)
    topics = []
    for k in range(num_topics):
        docs = documents[k][:MAX_DOCUMENTS] if documents is not None else []
        topics.append(
            {
                "name": str(names[k]),
                "share": round(float(shares[k]), 6),
                "x": round(float(xy[k, 0]), 5),
                "y": round(float(xy[k, 1]), 5),
                "terms": [position[int(v)] for v in pools[k]],
                "log_probs": [round(float(log_topic[k, v]), 4) for v in pools[k]],
                "documents": [
                    {"text": _snippet(text), "weight": round(float(weight), 4)}
                    for text, weight in docs
                ],
            }
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": model,
        "top_n": int(top_n),
        "lambda": DEFAULT_LAMBDA,
        "terms": [str(terms[v]) for v in used],
        "log_term_share": [round(float(log_term[v]), 4) for v in used],
        "topics": topics,
    }


def _checked(
    topic_term: Any, terms: Sequence[str], term_frequency: Any, prevalence: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    matrix = np.asarray(topic_term, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] < 2 or matrix.shape[1] < 2:
        raise ValueError(
            f"topic_term: expected a (K, V) matrix with K >= 2 topics and V >= 2 terms, "
            f"found shape {matrix.shape}"
        )
    num_topics, num_terms = matrix.shape
    sums = matrix.sum(axis=1)
    if not np.all(np.isfinite(matrix)) or matrix.min() < 0 or not np.allclose(sums, 1, atol=1e-4):
        raise ValueError(
            "topic_term: expected rows of p(w|k) (finite, >= 0, each summing to 1), found row "
            f"sums {sums.min():.4g}..{sums.max():.4g}; divide each row by its sum first"
        )
    if len(terms) != num_terms:
        raise ValueError(f"terms: expected {num_terms} (one per column), found {len(terms)}")
    frequency = np.asarray(term_frequency, dtype=float)
    if frequency.shape != (num_terms,) or not np.all(np.isfinite(frequency)):
        raise ValueError(
            f"term_frequency: expected {num_terms} finite values, found shape {frequency.shape}"
        )
    # A term the corpus never counts (possible with smoothed topics) gets the least
    # positive count, so its log share stays finite.
    positive = frequency[frequency > 0]
    if positive.size == 0:
        raise ValueError("term_frequency: expected some positive counts, found none")
    frequency = np.where(frequency > 0, frequency, positive.min())
    shares = np.asarray(prevalence, dtype=float)
    if shares.shape != (num_topics,) or not np.all(shares >= 0) or shares.sum() <= 0:
        raise ValueError(
            f"prevalence: expected {num_topics} non-negative values with a positive sum, "
            f"found shape {shares.shape}"
        )
    return matrix, frequency, shares / shares.sum()


def jensen_shannon(topic_term: np.ndarray) -> np.ndarray:
    """``(K, K)`` Jensen-Shannon divergences (natural log) between the rows."""
    p = np.asarray(topic_term, dtype=float)
    # x log x with 0 log 0 = 0
    entropy_terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)
    out = np.zeros((len(p), len(p)))
    for i in range(len(p)):
        mix = (p[i] + p) / 2
        mix_terms = np.where(mix > 0, mix * np.log(np.where(mix > 0, mix, 1.0)), 0.0).sum(axis=1)
        out[i] = (entropy_terms[i] + entropy_terms) / 2 - mix_terms
    out = np.maximum((out + out.T) / 2, 0.0)
    np.fill_diagonal(out, 0.0)
    return out


def intertopic_coordinates(topic_term: np.ndarray) -> np.ndarray:
    """``(K, 2)`` map coordinates: the principal coordinates of the Jensen-Shannon
    divergences between topics, as LDAvis' default ``jsPCA``."""
    return principal_coordinates(jensen_shannon(topic_term))


def principal_coordinates(distance: np.ndarray, dimensions: int = 2) -> np.ndarray:
    """Classical multidimensional scaling of a ``(K, K)`` distance matrix.

    The double-centred matrix ``B = -1/2 J D^2 J`` is eigendecomposed; the largest
    eigenvalues' eigenvectors, scaled by their roots, are the coordinates (negative
    eigenvalues, from distances no plane can hold exactly, count as zero). Signs are
    fixed so the largest entry of each axis is positive: the same model always
    draws the same map.
    """
    size = len(distance)
    centring = np.eye(size) - np.full((size, size), 1.0 / size)
    inner = -0.5 * centring @ (np.asarray(distance, dtype=float) ** 2) @ centring
    values, vectors = np.linalg.eigh((inner + inner.T) / 2)
    order = np.argsort(values)[::-1][:dimensions]
    coords = vectors[:, order] * np.sqrt(np.maximum(values[order], 0.0))
    for axis in range(coords.shape[1]):
        if coords[np.argmax(np.abs(coords[:, axis])), axis] < 0:
            coords[:, axis] *= -1
    return coords


def relevance(log_topic: np.ndarray, log_term: np.ndarray, lam: float) -> np.ndarray:
    """LDAvis relevance of every term to a topic: ``lam * log p(w|k) + (1 - lam) * lift``."""
    return lam * log_topic + (1 - lam) * (log_topic - log_term)


def relevance_pool(log_topic: np.ndarray, log_term: np.ndarray, top_n: int) -> np.ndarray:
    """Every term that is among a topic's ``top_n`` by relevance for SOME lambda in [0, 1].

    Relevance is linear in lambda, so on a grid interval ``[a, b]`` a term's relevance
    is at most the larger of its two end values, and the n-th best relevance is at
    least the smallest end value over the top n at ``a`` (those n terms stay at least
    that good all along), and likewise for the top n at ``b``. A term whose larger end
    value is below that bound cannot enter the top n inside the interval. Keeping
    every other term makes the pool a superset, so the page's ranking, computed
    exactly from the shipped ``log p(w|k)`` and ``log p(w)``, is the true top n for
    every slider position, not an approximation between grid points.
    """
    top_n = min(top_n, len(log_topic))
    keep = np.zeros(len(log_topic), dtype=bool)
    previous = previous_best = None
    for lam in np.linspace(0.0, 1.0, LAMBDA_GRID):
        scores = relevance(log_topic, log_term, lam)
        best = np.argpartition(-scores, top_n - 1)[:top_n]
        if previous is not None and previous_best is not None:
            ends_min = np.minimum(previous, scores)
            bound = max(ends_min[previous_best].min(), ends_min[best].min())
            keep |= np.maximum(previous, scores) >= bound
        previous, previous_best = scores, best
    pool = np.flatnonzero(keep)
    return pool[np.argsort(-log_topic[pool], kind="stable")]


def representative_documents(
    doc_topic: Any, texts: Sequence[str], count: int = MAX_DOCUMENTS
) -> list[list[Document]]:
    """For each topic, the ``count`` documents where its weight is highest, as
    ``(text, weight)``: what :func:`topic_view_data` takes as ``documents``."""
    theta = np.asarray(doc_topic, dtype=float)
    if theta.ndim != 2 or theta.shape[0] != len(texts):
        raise ValueError(
            f"doc_topic: expected ({len(texts)}, K), one row per text, found {theta.shape}"
        )
    order = np.argsort(-theta, axis=0, kind="stable")[:count]
    return [[(texts[d], float(theta[d, k])) for d in order[:, k]] for k in range(theta.shape[1])]


def write_topic_view(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return path


def read_topic_view(path: Path) -> dict[str, Any]:
    """A saved view, checked for its format and version before it is used."""
    data = json.loads(path.read_text(encoding="utf-8"))
    found = (data.get("format"), data.get("version")) if isinstance(data, dict) else None
    if found != (FORMAT, VERSION):
        raise ValueError(
            f"{path.name}: expected a {FORMAT} version {VERSION} file, found {found}; "
            "rerun the experiment to rewrite it"
        )
    return data


def _snippet(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= SNIPPET else flat[:SNIPPET] + "…"


def script_json(data: Any) -> str:
    """JSON safe inside ``<script>``: no ``</script>``, ``<!--`` or line separators
    can end the block early, whatever the documents say."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_topic_views(views: Sequence[dict[str, Any]]) -> str:
    """One HTML fragment for ``views`` (style and script once); empty without views."""
    if not views:
        return ""
    parts = [_render_one(data, index) for index, data in enumerate(views)]
    return f"<style>{STYLE}</style>" + "".join(parts) + f"<script>{SCRIPT}</script>"


def _render_one(data: dict[str, Any], index: int) -> str:
    topics = data["topics"]
    circles = _map_circles(topics)
    first = topics[0]
    return (
        f'<section class="topic-view" id="topic-view-{index}">'
        f"<h3>{_e(data['model'])}: intertopic distance map</h3>"
        '<p class="tv-note">Circles are topics, their area the topic\'s share of the corpus; '
        "nearby topics use similar words (Jensen-Shannon divergence, classical MDS). Click "
        "a topic, pick it from the list, or focus it with Tab and press Enter.</p>"
        '<div class="tv-body">'
        f'<svg class="tv-map" viewBox="0 0 {MAP_SIZE} {MAP_SIZE}" width="{MAP_SIZE}" '
        f'height="{MAP_SIZE}" role="group" aria-label="intertopic distance map">'
        f'<rect class="tv-frame" x="0" y="0" width="{MAP_SIZE}" height="{MAP_SIZE}"></rect>'
        f"{circles}</svg>"
        '<div class="tv-panel">'
        f'<label class="tv-choose">topic <select class="tv-select">{_options(topics)}</select>'
        "</label>"
        f'<h4 class="tv-heading">{_e(first["name"])}</h4>'
        f'<p class="tv-size">{first["share"] * 100:.1f}% of the corpus</p>'
        '<label class="tv-lambda">relevance &lambda; = <output class="tv-lambda-value">'
        f'{data["lambda"]:.2f}</output> <input class="tv-lambda-input" type="range" min="0" '
        f'max="1" step="0.01" value="{data["lambda"]}"></label>'
        '<p class="tv-legend"><span class="tv-key tv-all"></span> overall frequency '
        '<span class="tv-key tv-in"></span> within the topic</p>'
        '<ol class="tv-terms"></ol><h4>Most representative documents</h4>'
        '<ol class="tv-docs"></ol></div></div>'
        f'<script type="application/json" class="tv-data">{script_json(data)}</script>'
        "</section>"
    )


def _options(topics: Sequence[dict[str, Any]]) -> str:
    """Every topic in a list too: a circle the map draws under smaller ones is still
    one choice away."""
    return "".join(
        f'<option value="{k}">{k}: {_e(t["name"])} ({t["share"] * 100:.1f}%)</option>'
        for k, t in enumerate(topics)
    )


def _map_circles(topics: Sequence[dict[str, Any]]) -> str:
    """Topics as circles, area proportional to share; largest drawn first so small
    topics stay clickable on top."""
    xs = np.array([t["x"] for t in topics])
    ys = np.array([t["y"] for t in topics])
    shares = np.array([t["share"] for t in topics])
    # Area proportional to share: all circles together cover about a quarter of the
    # map, the largest at most MAX_RADIUS (few topics), the smallest still clickable.
    scale = min(MAP_SIZE * np.sqrt(0.25 / np.pi), MAX_RADIUS / np.sqrt(shares.max()))
    radius = np.maximum(scale * np.sqrt(shares / shares.sum()), MIN_RADIUS)
    pad = float(radius.max()) + 6  # room for the largest circle and its focus outline
    span = max(float(np.ptp(xs)), float(np.ptp(ys)), 1e-12)
    scale = (MAP_SIZE - 2 * pad) / span
    cx = pad + (xs - xs.min()) * scale + (MAP_SIZE - 2 * pad - np.ptp(xs) * scale) / 2
    cy = pad + (ys.max() - ys) * scale + (MAP_SIZE - 2 * pad - np.ptp(ys) * scale) / 2
    shapes = []
    for k in np.argsort(-shares, kind="stable"):
        name = topics[k]["name"]
        share = f"{topics[k]['share'] * 100:.1f}%"
        shapes.append(
            f'<g class="tv-topic" data-topic="{k}" tabindex="0" role="button" '
            f'aria-label="{_e(name)}, {share}"><title>{_e(name)}: {share}</title>'
            f'<circle cx="{cx[k]:.1f}" cy="{cy[k]:.1f}" r="{radius[k]:.1f}"></circle>'
            f'<text x="{cx[k]:.1f}" y="{cy[k] + 4:.1f}">{k}</text></g>'
        )
    return "".join(shapes)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


STYLE = """
.topic-view .tv-body { display: flex; gap: 1.5em; align-items: flex-start; flex-wrap: wrap; }
.topic-view .tv-note { color: #555; }
.tv-map .tv-frame { fill: #fafafa; stroke: #ddd; }
.tv-topic circle { fill: #4c78a8; fill-opacity: 0.35; stroke: #2c4f75; cursor: pointer; }
.tv-topic text { font-size: 10px; text-anchor: middle; pointer-events: none; fill: #123; }
.tv-topic:focus { outline: none; } .tv-topic:focus circle { stroke-width: 3; }
.tv-topic.tv-selected circle { fill: #d62728; fill-opacity: 0.6; stroke: #8b1a1a; }
.topic-view .tv-panel { flex: 1; min-width: 380px; }
.tv-choose { display: block; margin-bottom: 0.4em; } .tv-select { max-width: 100%; }
.topic-view .tv-heading { margin: 0; font-size: 1.15em; } .tv-size { margin: 0.2em 0; color: #555; }
.tv-terms { padding-left: 2.2em; margin: 0.4em 0; }
.tv-terms li { display: flex; align-items: center; gap: 0.6em; height: 1.25em; }
.tv-term { width: 9em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.tv-bars { position: relative; flex: 1; height: 0.8em; }
.tv-bars span, .tv-key { position: absolute; left: 0; top: 0; height: 100%; }
.tv-key { position: static; display: inline-block; width: 1.2em; height: 0.8em; }
.tv-all { background: #c7d3e0; } .tv-in { background: #d62728; }
.tv-docs li { margin: 0.3em 0; color: #333; } .tv-docs .tv-weight { color: #777; }
"""

SCRIPT = """
(function () {
  "use strict";
  function setup(root) {
    var data = JSON.parse(root.querySelector("script.tv-data").textContent);
    var slider = root.querySelector(".tv-lambda-input");
    var shown = root.querySelector(".tv-lambda-value");
    var choice = root.querySelector(".tv-select");
    var selected = 0;
    function ranked(k, lambda) {
      var topic = data.topics[k], rows = [];
      for (var i = 0; i < topic.terms.length; i++) {
        var lp = topic.log_probs[i], lw = data.log_term_share[topic.terms[i]];
        rows.push({term: data.terms[topic.terms[i]], lp: lp, lw: lw,
                   score: lambda * lp + (1 - lambda) * (lp - lw)});
      }
      rows.sort(function (a, b) { return b.score - a.score; });
      return rows.slice(0, data.top_n);
    }
    function show(k) {
      selected = k;
      var topic = data.topics[k], lambda = parseFloat(slider.value);
      shown.textContent = lambda.toFixed(2);
      choice.value = String(k);
      root.querySelector(".tv-heading").textContent = topic.name;
      root.querySelector(".tv-size").textContent =
        (topic.share * 100).toFixed(1) + "% of the corpus";
      root.querySelectorAll(".tv-topic").forEach(function (g) {
        g.classList.toggle("tv-selected", Number(g.dataset.topic) === k);
      });
      var rows = ranked(k, lambda), top = 0;
      rows.forEach(function (r) { top = Math.max(top, Math.exp(r.lw)); });
      var list = root.querySelector(".tv-terms");
      list.textContent = "";
      rows.forEach(function (r) {
        var li = document.createElement("li"), name = document.createElement("span");
        var bars = document.createElement("span"), all = document.createElement("span");
        var inside = document.createElement("span");
        li.dataset.term = r.term;
        name.className = "tv-term"; name.textContent = r.term; name.title = r.term;
        bars.className = "tv-bars"; all.className = "tv-all"; inside.className = "tv-in";
        // overall count of the term vs its expected count within the topic
        // (capped at the overall bar: the model's estimate may exceed the count)
        var overall = 100 * Math.exp(r.lw) / top;
        all.style.width = overall + "%";
        inside.style.width = Math.min(overall, 100 * Math.exp(r.lp) * topic.share / top) + "%";
        bars.appendChild(all); bars.appendChild(inside);
        li.appendChild(name); li.appendChild(bars); list.appendChild(li);
      });
      var docs = root.querySelector(".tv-docs");
      docs.textContent = "";
      topic.documents.forEach(function (d) {
        var li = document.createElement("li"), weight = document.createElement("span");
        weight.className = "tv-weight";
        weight.textContent = " (" + (d.weight * 100).toFixed(0) + "% this topic)";
        li.textContent = d.text; li.appendChild(weight); docs.appendChild(li);
      });
    }
    root.querySelectorAll(".tv-topic").forEach(function (g) {
      var k = Number(g.dataset.topic);
      g.addEventListener("click", function () { show(k); });
      g.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); show(k); }
      });
    });
    slider.addEventListener("input", function () { show(selected); });
    choice.addEventListener("change", function () { show(Number(choice.value)); });
    show(0);
  }
  document.querySelectorAll(".topic-view").forEach(setup);
})();
"""

__all__ = [
    "SUFFIX",
    "intertopic_coordinates",
    "jensen_shannon",
    "principal_coordinates",
    "read_topic_view",
    "relevance",
    "relevance_pool",
    "render_topic_views",
    "representative_documents",
    "script_json",
    "topic_view_data",
    "write_topic_view",
]

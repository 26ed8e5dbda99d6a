"""The HTML of the report's topic view: inline SVG map, term panel, style and script.

Rendering only: :mod:`topics.evaluate.topic_view` computes the data (a dict it saves
as JSON); this module turns saved views into one fragment of ``report.html``. The
map is drawn here, server-side, so it shows without JavaScript; the script (no
library, no CDN) fills the term panel, follows clicks, the keyboard, the topic
list and the lambda slider. Every text is escaped or set as text, never parsed as
HTML, and the embedded JSON cannot close its ``<script>`` block.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

MAP_SIZE = 420
MAX_RADIUS = 50
MIN_RADIUS = 4


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


__all__ = ["render_topic_views", "script_json"]

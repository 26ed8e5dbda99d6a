from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, tiny_config
from topics.config import (
    GROUPS,
    config_hash,
    deep_merge,
    flatten,
    load_config,
    parse_override,
    validate_config,
)
from topics.config.reading import load_yaml
from topics.errors import ConfigError

EXPERIMENTS = sorted((REPO / "experiments").glob("*.yaml"))
GROUP_FILES = sorted((REPO / "configs").glob("*/*.yaml"))
QUICKSTART = REPO / "experiments" / "quickstart.yaml"


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_every_experiment_loads(path: Path) -> None:
    config = load_config(path)
    assert config.name


@pytest.mark.parametrize("path", GROUP_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_config_group_loads_in_quickstart(path: Path, tmp_path: Path) -> None:
    group = {folder: name for name, (_, folder) in GROUPS.items()}[path.parent.name]
    experiment = tmp_path / "experiments" / "e.yaml"
    experiment.parent.mkdir()
    raw = yaml.safe_load((REPO / "experiments" / "quickstart.yaml").read_text())
    raw["defaults"][group] = path.stem
    experiment.write_text(yaml.safe_dump(raw))
    load_config(experiment, config_dir=REPO / "configs")


def test_quickstart_composes_groups_and_overrides() -> None:
    config = load_config(REPO / "experiments" / "quickstart.yaml", ["model.lda.num_topics=12"])
    assert config.model.lda.num_topics == 12
    assert config.data.labels == ["economy", "defense", "human rights", "transport"]
    assert config.features.tfidf.ngram_range == (1, 2)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "model.lda.num_topics=0",
            "model.lda.num_topics: Input should be greater than or equal to 2",
        ),
        ("model.lda.num_topic=5", "model.lda.num_topic: unknown key"),
        (
            "model.tfidf.classifier=forest",
            "model.tfidf.classifier: Input should be 'linear_svc' or 'logreg'",
        ),
        ("data.labels=[]", "data.labels: List should have at least 1 item"),
        ("data.labels=[a, a]", "labels must be unique"),
        ("features.tfidf.ngram_range=[2, 1]", "ngram_range must satisfy"),
        ("features.tfidf.char_ngram_range=[5, 2]", "char_ngram_range must satisfy"),
        (
            "model.tfidf.threshold_min_f1=1.5",
            "model.tfidf.threshold_min_f1: Input should be less than or equal to 1",
        ),
        ("seed=abc", "seed: Input should be a valid integer"),
        (
            "model.encoder.fine_labels=true",
            "model.encoder.fine_labels needs data.label_map",
        ),
        (
            "model.encoder.validation_fraction=0",
            "model.encoder.validation_fraction: Input should be greater than 0",
        ),
        ("model.ensemble.enabled=true", "model.ensemble: needs both model.tfidf and model.encoder"),
        (
            "model.lda.topic_names=[rail, army]",
            "model.lda: topic_names: expected 10 names (one per topic, num_topics=10), found 2",
        ),
        ("data.period=week", "data.period: Input should be 'year', 'quarter' or 'month'"),
        (
            "model.lda.topic_names={12: rail}",
            "topic_names: topic index 12 is out of range, num_topics=10 has topics 0..9",
        ),
    ],
    ids=[
        "k-zero",
        "typo",
        "unknown-model",
        "no-labels",
        "duplicate-labels",
        "ngram-order",
        "char-ngram-order",
        "fbr-range",
        "type",
        "encoder-fine-labels-without-map",
        "encoder-needs-held-out-texts",
        "ensemble-without-encoder",
        "topic-names-wrong-length",
        "period-unknown",
        "topic-names-index-out-of-range",
    ],
)
def test_bad_values_fail_with_key_path(override: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(REPO / "experiments" / "quickstart.yaml", [override])
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_both_models_disabled_is_rejected(tmp_path: Path) -> None:
    data = tiny_config(tmp_path, model={"tfidf": {"enabled": False}, "lda": {"enabled": False}})
    with pytest.raises(ConfigError, match="enable at least one"):
        validate_config(data)


def test_nb_alpha_and_fine_labels_are_refused_together() -> None:
    overrides = ["model.tfidf.fine_labels=true", "model.tfidf.nb_alpha=1"]
    with pytest.raises(ConfigError, match="nb_alpha does not apply with fine_labels"):
        load_config(QUICKSTART, overrides)
    assert load_config(QUICKSTART, ["model.tfidf.nb_alpha=0.5"]).model.tfidf.nb_alpha == 0.5
    overrides = ["model.tfidf.fine_labels=true", "model.tfidf.calibration=shared"]
    with pytest.raises(ConfigError, match="calibration does not apply with fine_labels"):
        load_config(QUICKSTART, overrides)


def test_one_none_description_may_be_written_as_a_line() -> None:
    line = load_config(QUICKSTART, ["data.none_descriptions=sports and culture"])
    lines = load_config(QUICKSTART, ["data.none_descriptions=[sports, culture]"])
    assert line.data.none_descriptions == ["sports and culture"]
    assert lines.data.none_descriptions == ["sports", "culture"]
    with pytest.raises(ConfigError, match="none_descriptions.0"):
        load_config(QUICKSTART, ["data.none_descriptions=[1]"])


def test_parse_override_parses_yaml_values() -> None:
    assert parse_override("a.b=12") == {"a": {"b": 12}}
    assert parse_override("a=[1, 2]") == {"a": [1, 2]}
    assert parse_override("a=true") == {"a": True}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("no-equals-sign")


def test_unknown_group_and_missing_group_file(tmp_path: Path) -> None:
    (tmp_path / "configs" / "data").mkdir(parents=True)
    experiment = tmp_path / "experiments" / "e.yaml"
    experiment.parent.mkdir()
    experiment.write_text("defaults: {dataset: x}\nname: e\n")
    with pytest.raises(ConfigError, match="defaults.dataset: unknown group"):
        load_config(experiment)
    experiment.write_text("defaults: {data: nope}\nname: e\n")
    with pytest.raises(ConfigError, match="defaults.data: no file"):
        load_config(experiment)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        load_config(bad)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("does/not/exist.yaml")


def test_missing_file_names_the_nearest_in_its_folder(tmp_path: Path) -> None:
    (tmp_path / "nyt-cap.yaml").write_text("name: x\n")
    (tmp_path / "quickstart.yaml").write_text("name: y\n")
    with pytest.raises(ConfigError, match=r"nytcap.yaml; did you mean .*nyt-cap.yaml\?$"):
        load_config(tmp_path / "nytcap.yaml")
    with pytest.raises(ConfigError, match=r"not found: [^;]*zzz.yaml$"):  # nothing near: no hint
        load_config(tmp_path / "zzz.yaml")


def test_hash_is_stable_and_ignores_machine_paths(tmp_path: Path) -> None:
    data = tiny_config(tmp_path)
    first = validate_config(data)
    moved = validate_config({**data, "data": {**data["data"], "root": "/elsewhere"}})
    changed = validate_config({**data, "seed": 2})
    more_cores = validate_config(deep_merge(data, {"model": {"tfidf": {"n_jobs": -1}}}))
    assert config_hash(first) == config_hash(moved) == config_hash(more_cores)
    assert config_hash(first) != config_hash(changed)


def test_flatten_uses_dotted_names() -> None:
    assert flatten({"a": {"b": 1, "c": [1, 2]}}) == {"a.b": 1, "a.c": "[1, 2]"}


def alias_bomb(levels: int) -> str:
    """The "billion laughs": each level is nine aliases of the one before (9**levels values)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]")
    return "\n".join(lines)


def test_yaml_alias_bomb_in_stop_words_is_refused_at_load(tmp_path: Path) -> None:
    """526 bytes gave a 624 MB error line, 1.9 GB RSS and 30 s; now one short line at load."""
    experiment = tmp_path / "experiments" / "bomb.yaml"
    experiment.parent.mkdir()
    body = alias_bomb(9).replace("\n", "\n  ")
    experiment.write_text(
        "defaults: {data: sample, features: tfidf, model: default, tracking: local}\n"
        f"name: bomb\nanchors:\n  {body}\nfeatures:\n  tfidf:\n    stop_words: *l8\n"
    )
    assert len(experiment.read_bytes()) < 700
    with pytest.raises(ConfigError) as info:
        load_config(experiment, config_dir=REPO / "configs")
    message = str(info.value)
    assert "aliases (*name) repeat more than 10,000 values" in message
    assert len(message) < 300 and "\n" not in message


@pytest.mark.parametrize(
    "override",
    [f"features.tfidf.stop_words=[{alias_bomb(6).replace(chr(10), ', ')}]", "seed=&a [*a]"],
    ids=["bomb", "recursive"],
)
def test_set_alias_bomb_is_refused_with_a_short_line(override: str) -> None:
    """A 300-character --set gave a 56 MB error line."""
    with pytest.raises(ConfigError) as info:
        load_config(REPO / "experiments" / "quickstart.yaml", [override])
    message = str(info.value)
    assert "repeat more than 10,000 values" in message or "inside the value it names" in message
    assert len(message) < 500 and "\n" not in message


def test_aliases_within_the_budget_still_load() -> None:
    assert len(json.dumps(load_yaml(alias_bomb(4)))) > 6561 * 5  # 9**4 values: loads
    config = load_config(
        REPO / "experiments" / "quickstart.yaml",
        ["features.tfidf.stop_words=[&w the, *w, and, *w]"],
    )
    assert config.features.tfidf.stop_words == ["the", "the", "and", "the"]


@pytest.mark.parametrize(
    "override",
    ["seed=" + "7" * 100_000 + "x", "data.name=[" + ", ".join(["x" * 1000] * 1000) + "]"],
    ids=["long-string", "long-list"],
)
def test_a_huge_bad_value_is_echoed_in_at_most_200_characters(override: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(REPO / "experiments" / "quickstart.yaml", [override])
    message = str(info.value)
    assert "...(cut)" in message or "..." in message
    assert len(message) < 500 and "\n" not in message


@pytest.mark.parametrize("spelling", ["off", "Off", "no", "'off'", '"off"'])
def test_defaults_tracking_off_as_readme_writes_it(tmp_path: Path, spelling: str) -> None:
    """YAML reads a bare ``off`` as false, and the run failed with "no file .../False.yaml"."""
    experiment = tmp_path / "experiments" / "e.yaml"
    experiment.parent.mkdir()
    experiment.write_text(
        "defaults: {data: sample, features: tfidf, model: default, tracking: "
        f"{spelling}}}\nname: e\n"
    )
    config = load_config(experiment, config_dir=REPO / "configs")
    assert config.tracking.enabled is False


@pytest.mark.parametrize(
    ("override", "suggestion"),
    [
        ("model.tfidf.c=2", "model.tfidf.C"),
        ("model.C=2", "model.tfidf.C"),
        ("model.lda.num_topic=5", "model.lda.num_topics"),
        ("data.lables=[economy]", "data.labels"),
        ("modle.lda.num_topics=3", "model"),
        ("model.tfidf.ngram_range=[1, 3]", "features.tfidf.ngram_range"),
    ],
    ids=["case", "wrong-section", "typo", "data-typo", "section-typo", "other-section"],
)
def test_unknown_config_key_suggests_the_closest_known_key(override: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(REPO / "experiments" / "quickstart.yaml", [override])
    key = override.partition("=")[0]
    if suggestion == "model":
        key = "modle"
    assert f"{key}: unknown key (did you mean `{suggestion}`?" in str(error.value)


def test_an_unknown_key_far_from_any_gets_no_guess() -> None:
    with pytest.raises(
        ConfigError, match=r"xyzzy: unknown key \(check the spelling; see configs/ for valid keys\)"
    ):
        load_config(REPO / "experiments" / "quickstart.yaml", ["model.tfidf.xyzzy=1"])


def test_load_data_config_reads_an_experiment_or_a_data_group_file_alone(tmp_path: Path) -> None:
    from topics.config import load_data_config

    experiment = load_data_config(REPO / "experiments" / "quickstart.yaml")
    assert (experiment.name, experiment.seed) == ("quickstart", 42)
    group = load_data_config(REPO / "configs" / "data" / "sample.yaml")
    assert group.name == "evaluation" and group.data == experiment.data
    bad = tmp_path / "bad.yaml"
    bad.write_text("path: x.jsonl\nlabels: []\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: data.labels"):
        load_data_config(bad)

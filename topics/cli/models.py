"""Which model a command scores with: a bundle folder, or a ``models:/`` / ``runs:/``
URI fetched once and kept in a local cache, without importing mlflow where it can.

Shared by ``classify``, ``topics suggest``, ``topics drift`` and ``topics evaluate``;
imports only numpy-side modules, so ``classify`` still starts fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from topics.errors import BundleError
from topics.serve.read_ahead import ReadAhead

DEFAULT_MODEL = "artifacts/latest"
MODEL_ENV = "TOPICS_MODEL"
MLFLOW_SCHEMES = ("models:/", "runs:/")
# Bundles fetched from MLflow are kept under $TOPICS_CACHE_DIR, else
# $XDG_CACHE_HOME/topics, else ~/.cache/topics (in models/).
CACHE_ENV = "TOPICS_CACHE_DIR"
# models:/NAME/VERSION, models:/MODEL_ID (a logged model), runs:/RUN_ID/PATH: immutable,
# so cached by what they name; models:/NAME@ALIAS is resolved to its version first.
SERVER_TIMEOUT = 5.0  # seconds for a tracking server to name an alias's version
ALIASES = "aliases.json"  # alias -> version, while the SQLite store is unchanged
PINNED_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)/?$")
LOGGED_MODEL = re.compile(r"^models:/(?P<id>m-[0-9a-f]+)/?$")
RUN_ARTIFACT = re.compile(r"^runs:/(?P<run>[0-9a-f]+)/(?P<path>.+?)/?$")
ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)/?$")


def default_model() -> str:
    """``$TOPICS_MODEL`` if set, else ``artifacts/latest`` (relative to the current directory)."""
    return os.environ.get(MODEL_ENV) or DEFAULT_MODEL


def load_model(model: str | None, tracking_uri: str | None = None, prog: str = "topics") -> Any:
    """The :class:`~topics.serve.predictor.Predictor` of ``model``: a bundle folder, a
    ``models:/`` or ``runs:/`` URI (through the cache of fetched bundles), or None for
    :func:`default_model`, which must exist. ``prog`` names the command in warnings."""
    if model is None:
        model = default_model()
        if not model.startswith(MLFLOW_SCHEMES) and not (Path(model) / "manifest.json").exists():
            where = f"${MODEL_ENV}={model}" if model != DEFAULT_MODEL else DEFAULT_MODEL
            raise BundleError(
                f"no trained model at {where} ({Path(model).absolute()}): run 'make run' "
                f"first (from the project root), or pass --model PATH or set {MODEL_ENV}"
            )
    if model.startswith(MLFLOW_SCHEMES):  # through the cache of fetched bundles
        return load_from_mlflow(model, tracking_uri, prog)
    read_ahead = ReadAhead(model)  # the bundle is read and hashed while numpy imports
    from topics.serve.bundle import load_bundle
    from topics.serve.predictor import Predictor

    return Predictor(load_bundle(model, read_ahead))


def cache_root() -> Path:
    """Where fetched bundles are kept: ``$TOPICS_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/topics``, else ``~/.cache/topics``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "topics"


def cache_entry(model_uri: str, tracking_uri: str | None) -> Path | None:
    """The cache folder of an immutable ``model_uri`` in the store ``tracking_uri``
    (the same resolution as MLflow's: the argument, ``$MLFLOW_TRACKING_URI``, the
    local ``mlflow.db``); None for a URI that may move (an alias)."""
    folder = _store_folder(_store(tracking_uri))
    if match := PINNED_VERSION.match(model_uri):
        parts = ["registry", quote(match["name"], safe=""), match["version"]]
    elif match := LOGGED_MODEL.match(model_uri):
        parts = ["logged", match["id"]]
    elif match := RUN_ARTIFACT.match(model_uri):
        parts = ["runs", match["run"], quote(match["path"], safe="")]
    else:
        return None
    if any(part in (".", "..") for part in parts):  # names no folder of its own
        return None
    return folder.joinpath(*parts)


def _store(tracking_uri: str | None) -> str:
    """The store's URI as MLflow resolves it, a local SQLite file by its absolute path."""
    store = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"
    if store.startswith("sqlite:///") and not store.startswith("sqlite:////"):
        store = "sqlite:///" + str(Path(store.removeprefix("sqlite:///")).resolve())
    return store


def _store_folder(store: str) -> Path:
    return cache_root() / "models" / hashlib.sha256(store.encode()).hexdigest()[:16]


def _store_state(store: str) -> list[int] | None:
    """Size and modification time of a SQLite store's files: any write to the store
    (an alias moved, a version registered) changes them. None for a server."""
    if not store.startswith("sqlite:///"):
        return None
    database = Path(store.removeprefix("sqlite:///"))
    state = []
    for path in (database, database.with_name(database.name + "-wal")):
        try:
            stat = path.stat()
        except OSError:
            state += [0, 0]
        else:
            state += [stat.st_size, stat.st_mtime_ns]
    return state


def cached_alias(model_uri: str, tracking_uri: str | None) -> str | None:
    """``models:/NAME/VERSION`` that ``model_uri`` (an alias) named when last resolved,
    if the SQLite store has not been written since; else None (ask the registry)."""
    store = _store(tracking_uri)
    state = _store_state(store)
    try:
        known = json.loads((_store_folder(store) / ALIASES).read_text())
        pinned = known[model_uri]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if state is None or not isinstance(pinned, dict) or pinned.get("store") != state:
        return None
    version = str(pinned.get("version", ""))
    return version if PINNED_VERSION.match(version) else None


def _remember_alias(model_uri: str, version: str, state: list[int] | None, store: str) -> None:
    """Keep what ``model_uri`` resolved to while the store was in ``state``."""
    if state is None:
        return
    memo = _store_folder(store) / ALIASES
    try:
        known = json.loads(memo.read_text())
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    known[model_uri] = {"version": version, "store": state}
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        staging = memo.with_name(f".{memo.name}.{os.getpid()}")
        staging.write_text(json.dumps(known))
        os.replace(staging, memo)
    except OSError:  # a read-only cache only costs the next call a lookup
        pass


def ask_server_for_alias(model_uri: str, store: str) -> str | None:
    """``models:/NAME/VERSION`` that the alias names now, asked of an ``http(s)://``
    tracking server in one REST call (MLflow's ``registered-models/alias`` endpoint),
    so that an alias costs milliseconds rather than importing mlflow. None for any
    other store, or when the call fails: MLflow's own client then asks, and reports
    what went wrong in its words. Credentials come from the variables MLflow's client
    reads (``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``)."""
    match = ALIAS.match(model_uri)
    if match is None or not store.startswith(("http://", "https://")):
        return None
    import base64
    import urllib.request  # here: it costs local paths tens of milliseconds

    query = urlencode({"name": match["name"], "alias": match["alias"]})
    request = urllib.request.Request(
        f"{store.rstrip('/')}/api/2.0/mlflow/registered-models/alias?{query}"
    )
    if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
        request.add_header("Authorization", f"Bearer {token}")
    elif user := os.environ.get("MLFLOW_TRACKING_USERNAME"):
        secret = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(secret).decode())
    try:
        with urllib.request.urlopen(request, timeout=SERVER_TIMEOUT) as response:
            version = str(json.load(response)["model_version"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    pinned = f"models:/{match['name']}/{version}"
    return pinned if PINNED_VERSION.match(pinned) else None


def load_from_mlflow(model_uri: str, tracking_uri: str | None = None, prog: str = "topics") -> Any:
    """The bundle behind a ``models:/`` or ``runs:/`` URI, from the cache when it holds it.

    A version-pinned URI that is cached loads without importing mlflow. So does an
    alias on a local SQLite store that has not been written since the alias was last
    looked up, and an alias on a tracking server (one REST call names its version);
    otherwise an alias costs one registry lookup through mlflow, then the same.
    Whatever the cache holds is checked as any bundle is (manifest, checksums) on every
    load; an entry that fails the check is fetched again, with a warning on stderr
    that ``prog`` (the command) opens.
    """
    from topics.serve.predictor import Predictor

    entry = cache_entry(model_uri, tracking_uri)
    if entry is None and ALIAS.match(model_uri):
        store = _store(tracking_uri)
        pinned = cached_alias(model_uri, tracking_uri) or ask_server_for_alias(model_uri, store)
        if pinned is None:
            from topics.tracking import resolve_alias

            state = _store_state(store)  # before the lookup: a later write voids it
            pinned = resolve_alias(model_uri, tracking_uri)
            _remember_alias(model_uri, pinned, state, store)
        model_uri = pinned
        entry = cache_entry(model_uri, tracking_uri)
    if entry is not None and (entry / "manifest.json").is_file():
        try:
            return Predictor.load(entry)
        except BundleError as exc:
            print(f"{prog}: warning: cached {model_uri}: {exc}; fetching it again", file=sys.stderr)
            shutil.rmtree(entry, ignore_errors=True)
    # Only a cache miss pays for importing mlflow; plain paths stay numpy-only.
    from topics.tracking import fetch_bundle

    with tempfile.TemporaryDirectory(prefix="topics-model-") as tmp:
        bundle = fetch_bundle(model_uri, tmp, tracking_uri)
        predictor = Predictor.load(bundle)  # checked before it is kept
        if entry is not None:
            _keep(bundle, entry)
    return predictor


def _keep(bundle: Path, entry: Path) -> None:
    """Copy ``bundle`` to ``entry`` atomically (a staging folder renamed into place);
    a cache that cannot be written only costs the next call a download."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=entry.parent))
    except OSError:  # a read-only cache
        return
    try:
        shutil.copytree(bundle, staging, dirs_exist_ok=True)
        if entry.exists() and not (entry / "manifest.json").is_file():
            shutil.rmtree(entry, ignore_errors=True)  # a broken entry left behind
        os.replace(staging, entry)
    except OSError:  # another process kept it first
        shutil.rmtree(staging, ignore_errors=True)

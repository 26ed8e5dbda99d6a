"""A fine-tuned transformer encoder as a classifier (``model.encoder``).

A pretrained BERT-style encoder (default all-MiniLM-L6-v2), mean-pooled, with a
linear head, fine-tuned end to end on the training texts with AdamW and a
linear warm-up/decay schedule. Three kinds of target, as for the linear models:

- **source classes** (``label_map`` given, nyt-cap's 28 CAP topics): softmax over
  the classes, each label's probability the sum over the classes mapped to it;
- **single label** (20 Newsgroups): softmax over the labels;
- **multi-label** (Reuters): one sigmoid per label.

A seeded ``validation_fraction`` of the training split is held out of the
fine-tuning: the F1-optimal threshold of every label is fit on it, and its
micro-F1 (accuracy for single-label data) is the train-only score that ranks
this model against the others (and :mod:`topics.families.ensemble` mixes it with the
TF-IDF model there). The test split is never seen.

torch and transformers are imported only in :meth:`EncoderClassifier.fit`
(``pip install 'topics[encoder]'``). The bundle keeps plain float32 weights and
the tokenizer's JSON; :mod:`topics.kernels.transformer` scores them with numpy.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from topics.errors import DataError
from topics.families.base import ArrayStore
from topics.families.calibration import held_out_cuts
from topics.families.encoder.cache import (
    Position,
    cache_key,
    restore,
    resume,
    save,
    save_checkpoint,
)
from topics.families.encoder.pretrained import (
    import_torch,
    load_pretrained,
)
from topics.kernels.transformer import (
    SCALE,
    bert_names,
    dequantize_rows,
    encode,
    encode_by_length,
    head_proba,
    load_encoder_tokenizer,
    to_int8,
    token_lengths,
)
from topics.progress import enabled as progress_enabled
from topics.progress import progress, stage
from topics.text import keep_header_fields

logger = logging.getLogger(__name__)

# batches per run sorted by length (group_by_length): long enough to gather texts of
# one length, short enough that a batch's texts still come from all over the data
GROUP_BATCHES = 50
# within an epoch, a checkpoint at most this often (an mpnet epoch can take 90 minutes)
CHECKPOINT_SECONDS = 600.0


class EncoderClassifier(ClassifierMixin, BaseEstimator):
    """Fine-tuned transformer encoder; takes raw texts.

    Parameters
    ----------
    pretrained : str
        A model folder (``config.json``, weights, ``tokenizer.json``) or a hub id.
    label_names : list of str
        Target labels, in output column order.
    label_map : dict or None
        Source class -> target label or None: ``fit`` then takes the source class
        of each document (1-D) and learns the classes.
    single_label : bool
        ``fit`` takes one label index per document (1-D); softmax over labels.
    max_length : int
        Tokens kept per text (the rest is cut); at most the model's positions.
    header_fields : list of str or None
        Texts that open with mail or Usenet headers keep only these fields of them
        (:func:`topics.text.keep_header_fields`), leaving ``max_length`` to the body;
        None: the texts as they are.
    epochs, batch_size, learning_rate, weight_decay, warmup
        AdamW fine-tuning; ``warmup`` is the fraction of steps the rate ramps up.
    group_by_length : bool
        Fine-tuning batches of texts of similar length (less padding: on nyt-cap, 0.6 s
        per 32 texts instead of 1.5 at 128 tokens; 1.55 times faster at 64): each epoch's
        shuffled order is cut into runs of ``GROUP_BATCHES`` batches, each run sorted by
        length, and the batches shuffled.
    head_learning_rate : float or None
        The output layer's rate; None: ``learning_rate``.
    train_dtype : {"float32", "bfloat16"}
        "bfloat16": the fine-tuning passes run under torch's CPU autocast (matrix
        products in bfloat16, weights and optimizer state float32): 1.55 times faster
        per batch on a CPU with AMX or AVX512-BF16, slower on one without. Scoring
        (held out, test, the bundle) is float32 either way.
    validation_fraction : float
        Share of the training texts held out for thresholds and the model's score.
    threshold_min_positives : int
        Labels with fewer held-out positives keep the cut 0.5.
    random_state : int
    weight_bits : int
        32: float32 weights; 8: once fine-tuned, each matrix of the encoder is rounded
        to int8 rows with a scale per row (:func:`topics.kernels.transformer.to_int8`),
        and scored, thresholded and exported as rounded: a bundle a quarter the size.
    threads : int or None
        torch threads; None: every core.
    cache : ArrayStore or None
        Where a fine-tuned model is kept, keyed by the texts, the targets, every
        parameter above but ``threads`` and ``weight_bits``, the pretrained folder's file names and
        sizes, and the torch and transformers versions: a rerun on the same
        training data reads it back instead of fine-tuning again. A fine-tuning that
        was stopped goes on from its last checkpoint (one after every epoch, and every
        ``CHECKPOINT_SECONDS`` within one).

    Attributes
    ----------
    history_ : list of dict
        One record per epoch: ``step`` (the epoch, from 1), ``epoch_train_loss``
        (mean batch loss) and ``epoch_validation_score`` (the held-out score after
        that epoch, as ``validation_score_``; nan without a held-out share).
    """

    def __init__(
        self,
        pretrained: str = "sentence-transformers/all-MiniLM-L6-v2",
        label_names: Sequence[str] | None = None,
        label_map: dict[str, str | None] | None = None,
        single_label: bool = False,
        max_length: int = 128,
        header_fields: Sequence[str] | None = None,
        epochs: int = 3,
        batch_size: int = 32,
        learning_rate: float = 1e-4,
        head_learning_rate: float | None = None,
        train_dtype: str = "float32",
        weight_decay: float = 0.01,
        warmup: float = 0.06,
        group_by_length: bool = False,
        validation_fraction: float = 0.1,
        threshold_min_positives: int = 5,
        random_state: int = 0,
        weight_bits: int = 32,
        threads: int | None = None,
        cache: ArrayStore | None = None,
    ) -> None:
        self.pretrained = pretrained
        self.label_names = label_names
        self.label_map = label_map
        self.single_label = single_label
        self.max_length = max_length
        self.header_fields = header_fields
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.head_learning_rate = head_learning_rate
        self.train_dtype = train_dtype
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.group_by_length = group_by_length
        self.validation_fraction = validation_fraction
        self.threshold_min_positives = threshold_min_positives
        self.random_state = random_state
        self.weight_bits = weight_bits
        self.threads = threads
        self.cache = cache

    # -- targets ---------------------------------------------------------------
    def _targets(self, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(head targets, groups (n_outputs, n_labels), label indicator (n, n_labels))."""
        names = list(self.label_names or [])
        if not names:
            raise ValueError("EncoderClassifier needs label_names")
        if self.label_map:
            sources = np.asarray(y).astype(str)
            self.classes_ = np.unique(sources)
            groups = np.zeros((len(self.classes_), len(names)))
            for i, source in enumerate(self.classes_):
                target = self.label_map.get(str(source))
                if target is not None:
                    groups[i, names.index(target)] = 1.0
            classes = np.searchsorted(self.classes_, sources)
            return classes, groups, groups[classes]
        self.classes_ = np.arange(len(names))
        groups = np.eye(len(names))
        if self.single_label:
            classes = np.asarray(y, dtype=np.int64)
            return classes, groups, groups[classes]
        indicator = np.asarray(y, dtype=np.float64)
        return indicator, groups, indicator

    @property
    def _softmax(self) -> bool:
        return bool(self.label_map) or self.single_label

    # -- fitting -----------------------------------------------------------------
    def fit(self, X: Sequence[str], y: Any) -> EncoderClassifier:
        """Fine-tune on texts ``X``; ``y`` as the ``label_map``/``single_label`` settings say."""
        if self.train_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"train_dtype: 'float32' or 'bfloat16', not {self.train_dtype!r}")
        torch, transformers = import_torch()
        transformers.logging.set_verbosity_error()  # load reports, e.g. the unused pooler
        if not progress_enabled():
            transformers.utils.logging.disable_progress_bar()
        texts = self._view(X)
        targets, groups, indicator = self._targets(y)
        if len(texts) != len(targets):
            raise DataError(f"{len(texts)} texts but {len(targets)} targets")
        if self.train_dtype == "bfloat16" and not _native_bfloat16(torch):
            stage(
                "encoder: this CPU has no native bfloat16 (AMX or AVX512-BF16): "
                "train_dtype bfloat16 may fine-tune slower than float32"
            )
        torch.manual_seed(self.random_state)
        threads = self.threads or os.cpu_count() or 1
        torch.set_num_threads(threads)

        encoder, config, hub_tokenizer = load_pretrained(
            transformers, self.pretrained, "EncoderClassifier"
        )
        self.tokenizer_json_ = hub_tokenizer.backend_tokenizer.to_str()
        # no longer than the model has position embeddings for
        positions = int(config.max_position_embeddings) - _position_offset(encoder)
        self.max_length_ = min(self.max_length, positions)
        self.tokenizer_ = load_encoder_tokenizer(self.tokenizer_json_, self.max_length_)
        key = cache_key(self, torch, transformers, texts, targets)
        if key and restore(self, torch, encoder, groups, key):
            logger.info("encoder: the fine-tuned model read back from the cache")
        else:
            self._train(
                torch, transformers, encoder, config, texts, targets, indicator, groups, key
            )
            encoder.eval()
            if key:
                save(self, key)
        if self.weight_bits == 8:
            self._round_to_int8(torch, texts, indicator)
        return self

    def _round_to_int8(self, torch: Any, texts: list[str], indicator: np.ndarray) -> None:
        """The encoder's matrices rounded as the bundle keeps them; its held-out scores
        and thresholds again, from the rounded model."""
        weights = to_int8(self.weights())
        with torch.no_grad():
            for name, parameter in self.encoder_.named_parameters():
                if name + SCALE in weights:
                    rounded = dequantize_rows(weights[name], weights[name + SCALE])
                    parameter.copy_(torch.from_numpy(rounded))
        held_out = getattr(self, "validation_indices_", np.zeros(0, dtype=int))
        self._fit_thresholds(texts, held_out, indicator)

    def _train(
        self,
        torch: Any,
        transformers: Any,
        encoder: Any,
        config: Any,
        texts: list[str],
        targets: np.ndarray,
        indicator: np.ndarray,
        groups: np.ndarray,
        key: str,
    ) -> None:
        """Fine-tune ``encoder`` and a new output layer on the fit share of ``texts``;
        after each epoch, the layer's weights and the thresholds on the held-out share.
        With a cache ``key``, a checkpoint after every epoch but the last and every
        ``CHECKPOINT_SECONDS`` within one; a stopped fine-tuning's checkpoint is gone on from."""
        fit_idx, val_idx = self._holdout(targets)
        head = torch.nn.Linear(config.hidden_size, groups.shape[0])
        if not self._softmax:  # each sigmoid starts at its label's training frequency
            prior = np.clip(targets[fit_idx].mean(axis=0), 1e-4, 1 - 1e-4)
            with torch.no_grad():
                head.bias.copy_(torch.as_tensor(np.log(prior / (1 - prior))))
        optimizer, schedule = self._optimizer(torch, transformers, encoder, head, len(fit_idx))
        self.encoder_, self.groups_ = encoder, groups
        rng = np.random.default_rng(self.random_state)
        self.history_: list[dict[str, float]] = []
        encoder.train()
        lengths = token_lengths(self.tokenizer_, texts) if self.group_by_length else None
        per_epoch = -(-len(fit_idx) // self.batch_size)
        start = (
            resume(self, key, torch, encoder, head, optimizer, schedule, rng, per_epoch)
            if key
            else Position()
        )
        if start != Position():
            stage(f"encoder: going on {start.where(self.epochs)} (a stopped run's checkpoint)")
        last, saved = start, time.monotonic()  # the last checkpoint, and when
        try:
            for epoch in progress(range(start.epochs + 1, self.epochs + 1), desc="encoder epochs"):
                rng_state = rng.bit_generator.state  # before the batches: a checkpoint's
                batches = self._batches(fit_idx[rng.permutation(len(fit_idx))], lengths, rng)
                done = start.batches if epoch == start.epochs + 1 else 0
                losses = list(start.losses) if done else []
                for number, batch in enumerate(
                    progress(batches[done:], desc="fine-tuning"), done + 1
                ):
                    loss = self._loss(torch, head, [texts[i] for i in batch], targets[batch])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    losses.append(float(loss.detach()))
                    due = time.monotonic() - saved >= CHECKPOINT_SECONDS
                    if key and due and number < len(batches):
                        here = Position(epoch - 1, number, tuple(losses))
                        if save_checkpoint(
                            self, key, here, torch, head, optimizer, schedule, rng_state
                        ):
                            last = here  # once written, not before
                        saved = time.monotonic()
                        # progress in a log, where no bar is drawn
                        stage(
                            f"encoder: epoch {epoch}/{self.epochs}, batch {number}/{len(batches)}"
                        )
                encoder.eval()  # no dropout while scoring; scoring draws no random numbers
                self._end_epoch(epoch, head, losses, texts, val_idx, indicator)
                if key and epoch < self.epochs:
                    here, rng_state = Position(epoch), rng.bit_generator.state
                    if save_checkpoint(
                        self, key, here, torch, head, optimizer, schedule, rng_state
                    ):
                        last = here
                    saved = time.monotonic()
                encoder.train()
        except KeyboardInterrupt:
            if last != Position():
                stage(f"encoder: stopped; the same command goes on {last.where(self.epochs)}")
            raise

    def _end_epoch(
        self,
        epoch: int,
        head: Any,
        losses: list[float],
        texts: list[str],
        val_idx: np.ndarray,
        indicator: np.ndarray,
    ) -> None:
        """The output layer's weights, the thresholds and score on the held-out share, the
        epoch's record in ``history_`` and its line in the log."""
        self.coef_ = head.weight.detach().numpy().astype(np.float64)
        self.intercept_ = head.bias.detach().numpy().astype(np.float64)
        self._fit_thresholds(texts, val_idx, indicator)
        record = {
            "step": float(epoch),
            "epoch_train_loss": float(np.mean(losses)),
            "epoch_validation_score": self.validation_score_,
        }
        self.history_.append(record)
        # a line per epoch in a run's log, where no bar is drawn (an epoch can take an hour)
        measure = "accuracy" if self.single_label else "micro-F1"
        stage(
            f"encoder epoch {epoch}/{self.epochs} done: train loss {np.mean(losses):.4f}, "
            f"held-out {measure} {self.validation_score_:.4f}"
        )

    def _loss(self, torch: Any, head: Any, texts: list[str], targets: np.ndarray) -> Any:
        """The batch's mean loss: cross-entropy over the classes, or over each sigmoid."""
        with torch.autocast("cpu", torch.bfloat16, enabled=self.train_dtype == "bfloat16"):
            logits = head(self._pool(torch, *encode(self.tokenizer_, texts))).float()
        target = torch.as_tensor(targets)
        if self._softmax:
            return torch.nn.functional.cross_entropy(logits, target)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, target.float())

    def _optimizer(
        self, torch: Any, transformers: Any, encoder: Any, head: Any, n_fit: int
    ) -> tuple[Any, Any]:
        """AdamW over the encoder and the head (at ``head_learning_rate``), and the linear
        warm-up/decay schedule over every step of ``epochs`` passes of ``n_fit`` texts."""
        optimizer = torch.optim.AdamW(
            [
                {"params": list(encoder.parameters())},
                {
                    "params": list(head.parameters()),
                    "lr": self.head_learning_rate or self.learning_rate,
                },
            ],
            lr=self.learning_rate,
            weight_decay=self.weight_decay,
        )
        steps = self.epochs * -(-n_fit // self.batch_size)
        schedule = transformers.get_linear_schedule_with_warmup(
            optimizer, int(self.warmup * steps), steps
        )
        return optimizer, schedule

    def _batches(
        self, order: np.ndarray, lengths: np.ndarray | None, rng: np.random.Generator
    ) -> list[np.ndarray]:
        """``order`` cut into batches; with ``lengths``, of similar length (``group_by_length``)."""
        size = self.batch_size
        if lengths is not None:
            run = size * GROUP_BATCHES
            order = np.concatenate(
                [
                    part[np.argsort(-lengths[part], kind="stable")]
                    for part in np.split(order, range(run, len(order), run))
                ]
            )
        batches = [order[k : k + size] for k in range(0, len(order), size)]
        if lengths is not None:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def _view(self, X: Sequence[str]) -> list[str]:
        """The texts as the encoder reads them (``header_fields``)."""
        if self.header_fields is None:
            return list(X)
        return [keep_header_fields(text, self.header_fields) for text in X]

    def _holdout(self, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fine-tuning indices, held-out indices), stratified on the class where it can be."""
        everything = np.arange(len(targets))
        if not self.validation_fraction:
            return everything, everything[:0]
        stratify = targets if targets.ndim == 1 and np.bincount(targets).min() >= 2 else None
        fit_idx, val_idx = train_test_split(
            everything,
            test_size=self.validation_fraction,
            random_state=self.random_state,
            stratify=stratify,
        )
        return np.sort(fit_idx), np.sort(val_idx)

    def _fit_thresholds(self, texts: list[str], val_idx: np.ndarray, indicator: np.ndarray) -> None:
        self.thresholds_ = np.full(indicator.shape[1], 0.5)
        self.validation_score_ = float("nan")
        if not len(val_idx):
            return
        proba = self.predict_proba([texts[i] for i in val_idx])
        self.validation_indices_, self.validation_proba_ = val_idx, proba
        self.thresholds_, self.validation_score_ = held_out_cuts(
            proba, indicator[val_idx], self.single_label, self.threshold_min_positives
        )

    # -- scoring -----------------------------------------------------------------
    def _pool(self, torch: Any, ids: np.ndarray, mask: np.ndarray) -> Any:
        ids_t, mask_t = torch.as_tensor(ids), torch.as_tensor(mask)
        hidden = self.encoder_(input_ids=ids_t, attention_mask=mask_t).last_hidden_state.float()
        weights = mask_t.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def pooled(self, X: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Mean-pooled encoder vectors ``(n, hidden)``, float32."""
        check_is_fitted(self, "coef_")
        torch, _ = import_torch()
        texts = self._view(X)
        out = np.zeros((len(texts), self.coef_.shape[1]), dtype=np.float32)
        with torch.no_grad():
            for batch, ids, mask in encode_by_length(self.tokenizer_, texts, batch_size):
                out[batch] = self._pool(torch, ids, mask).numpy()
        return out

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Probability of each target label ``(n, n_labels)``."""
        return head_proba(self.pooled(X), self.coef_, self.intercept_, self.groups_, self._softmax)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """0/1 label matrix (single-label data: the class indices)."""
        return self.decide(self.predict_proba(X))

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """What :meth:`predict` returns, from :meth:`predict_proba`'s output."""
        if self.single_label:
            return proba.argmax(axis=1)
        return (proba >= self.thresholds_).astype(int)

    # -- export ------------------------------------------------------------------
    def export(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(spec, arrays) for the bundle: the encoder's settings and float32 weights."""
        check_is_fitted(self, "coef_")
        config = self.encoder_.config
        spec = {
            "tokenizer": self.tokenizer_json_,
            "max_length": self.max_length_,
            "num_layers": int(config.num_hidden_layers),
            "num_heads": int(config.num_attention_heads),
            "layer_norm_eps": float(config.layer_norm_eps),
            "softmax": self._softmax,
        }
        if self.header_fields is not None:
            spec["header_fields"] = list(self.header_fields)
        arrays = self.weights()
        if config.model_type == "mpnet":
            arrays = bert_names(arrays, self.encoder_.embeddings.padding_idx)
        if self.weight_bits == 8:
            arrays = to_int8(arrays)
        return spec, arrays

    def weights(self) -> dict[str, np.ndarray]:
        """The encoder's float32 weights by torch's names."""
        return {
            name: parameter.detach().numpy().astype(np.float32)
            for name, parameter in self.encoder_.named_parameters()
        }


def _native_bfloat16(torch: Any) -> bool:
    """Whether torch's CPU kernels run bfloat16 natively here (oneDNN's own check)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None else False


def _position_offset(encoder: Any) -> int:
    """Position rows before the first token's: MPNet's start after its padding id."""
    if encoder.config.model_type == "mpnet":
        return int(encoder.embeddings.padding_idx) + 1
    return 0

"""The few-shot family (``model.few_shot``): labels from zero or a handful of labelled
articles plus the unlabelled archive, by seeded self-training. Its hints are in
:mod:`~topics.families.few_shot.hints`, the estimator in
:mod:`~topics.families.few_shot.model`, the encoders it fine-tunes (teacher, noisy
student) in :mod:`~topics.families.few_shot.teachers`, its settings and bundle state in
:mod:`~topics.families.few_shot.family`.

1. **Hints.** Every text of the archive (the training texts and
   ``TrainingData.unlabelled``) is embedded by the packaged sentence encoder
   (all-MiniLM-L6-v2, mean pooling, unit length). A label's *hint* marks the texts
   that hold one of its seed words, or whose cosine similarity to its description
   (``data.label_descriptions``: a sentence, or a list of them, e.g. a codebook's
   subtopics, of which the nearest counts) reaches ``description_threshold``. With
   ``none_descriptions`` (what the texts with none of the labels are about: a
   codebook's other topics), a text gets no hint of a label, from its description or
   its seed words, unless the label's description is nearer than the nearest of
   them by ``none_margin``.
2. **Teacher.** With labelled texts, a one-vs-rest logistic regression on their
   embeddings (``teacher: frozen``), or the encoder fine-tuned on them, one sigmoid
   per label (``teacher: finetune``), scores the archive; a text gets a
   pseudo-label where the teacher says yes and the hint agrees, or where the
   teacher is sure on its own (``confident``). The teacher confirms at least
   ``min_agreement`` of a label's hinted texts, its best-scored ones: a teacher of
   unusual examples (the model's least certain guesses, which ``topics suggest``
   picks) would keep too few. A label with fewer than ``teacher_min_positives``
   labelled examples keeps its hints as pseudo-labels (a teacher of one or two
   examples would undo them); with no labelled text, the hints are the pseudo-labels.
3. **Student.** One logistic regression per label on TF-IDF columns and a
   sentence vector (weighted ``scale``), fitted on the whole pseudo-labelled
   archive plus the labelled texts (weighted ``labelled_weight``): it learns the
   archive's own vocabulary, which a handful of examples cannot show. Each next
   student learns the one before's labels of the archive (``rounds`` students in
   all). The sentence vector is ``vectors``:
   the encoder's own embedding, or static token vectors distilled from it (the
   ``static`` family's, a lookup).

4. **Noisy student** (``encoder_epochs`` above 0; off by default). The encoder
   (``encoder_pretrained``, by default ``pretrained``) is fine-tuned on the last
   student's labels of the archive (at most ``encoder_archive`` of its texts) and the
   labelled texts, and scores instead.

The bundle keeps the student's coefficients, the TF-IDF vocabulary and the
encoder's float32 weights (or the static token vectors), or the noisy student's
fine-tuned encoder as the encoder family keeps one; :mod:`topics.serve.scorers`
scores it with numpy. Training needs ``pip install 'topics[encoder]'`` (torch,
transformers).

On nyt-cap (``benchmarks/few_shot.py``), with each label described by its CAP
codebook subtopics and the none descriptions as the codebook's other topics, it reaches
test micro-F1 0.592 with no label, 0.608 with 16 labelled per label and 0.627 with 64;
the rules, thresholds and weights above were chosen on the training years 1996-2003,
never on the test years.

>>> model = SeededSelfTraining(                                   # doctest: +SKIP
...     label_names=["economy", "transport"],
...     descriptions={"economy": "markets, banks, trade and prices"},
...     seed_words={"transport": ["airline", "railway", "road"]},
... ).fit(labelled_texts, y, unlabelled=archive)
>>> model.predict(["Kazakhstan opens a new rail line to China"])  # doctest: +SKIP
array([[0, 1]])
"""

from topics.families.few_shot.family import FewShot, FewShotSettings
from topics.families.few_shot.hints import description_similarity, embed_unique
from topics.families.few_shot.model import SeededSelfTraining

__all__ = [
    "FewShot",
    "FewShotSettings",
    "SeededSelfTraining",
    "description_similarity",
    "embed_unique",
]

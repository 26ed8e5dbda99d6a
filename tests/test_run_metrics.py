from __future__ import annotations

from topics.evaluate.run_metrics import RunMetrics


def scores() -> RunMetrics:
    return RunMetrics(
        {
            "tfidf": {
                "test": {"micro_f1": 0.9, "f1_human_rights": 0.5},
                "fit": {"seconds": 1.5},
                "train": {"cv_score": 0.8},
            },
            "lda": {"test": {"micro_f1": 0.7}, "fit": {"seconds": 3.0}},
        },
        primary="tfidf",
        run={"lda_coherence_c_v": 0.6, "cv_micro_f1": 0.85},
    )


def test_flat_keys_are_the_ones_users_read() -> None:
    assert scores().flat() == {
        "tfidf_test_micro_f1": 0.9,
        "tfidf_test_f1_human_rights": 0.5,
        "tfidf_fit_seconds": 1.5,
        "tfidf_train_cv_score": 0.8,
        "lda_test_micro_f1": 0.7,
        "lda_fit_seconds": 3.0,
        "test_micro_f1": 0.9,  # the primary model's held-out split, plain
        "test_f1_human_rights": 0.5,
        "lda_coherence_c_v": 0.6,
        "cv_micro_f1": 0.85,
    }


def test_no_primary_no_plain_keys() -> None:
    flat = RunMetrics({"lda": {"test": {"micro_f1": 0.7}}}).flat()
    assert flat == {"lda_test_micro_f1": 0.7}


def test_a_validation_fit_reports_its_held_out_split_as_val_and_nothing_else() -> None:
    assert scores().held_out_as("val").flat() == {
        "tfidf_val_micro_f1": 0.9,
        "tfidf_val_f1_human_rights": 0.5,
        "lda_val_micro_f1": 0.7,
        "val_micro_f1": 0.9,
        "val_f1_human_rights": 0.5,
    }

"""The shared sentence encoder: the torch pass against transformers' BERT and MPNet and
the numpy pass, the weights read from a task model's folder, and one error line for a
folder that holds neither."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import needs_encoder_extra
from topics.errors import ConfigError
from topics.families.sentence_encoder import NumpyBertEmbedder, TorchBertEmbedder
from topics.kernels.transformer import encode


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs_encoder_extra()
    from tests.test_encoder import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


MIXED_LENGTHS = [
    "Inflation.",
    "The army moved tanks to the border after the bank raised rates.",
    "Freight trains stopped at the station; cargo piled up for a week while prices rose.",
    "Navy.",
]


@pytest.fixture(scope="module")
def mpnet_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs_encoder_extra()
    from tests.test_encoder import make_tiny_mpnet

    return make_tiny_mpnet(tmp_path_factory.mktemp("tiny-mpnet"))


@pytest.mark.parametrize("kind", ["bert", "mpnet"])
def test_the_torch_pass_is_transformers_and_the_numpy_pass(
    kind: str, request: pytest.FixtureRequest
) -> None:
    import torch
    import transformers

    folder = request.getfixturevalue(f"{kind}_folder")
    embedder = TorchBertEmbedder(str(folder), max_length=16, batch_size=2)
    vectors = embedder.embed(MIXED_LENGTHS)

    config = transformers.AutoConfig.from_pretrained(folder)
    config.hidden_act = "gelu_pytorch_tanh"  # what both passes compute
    model = transformers.AutoModel.from_pretrained(
        folder, config=config, add_pooling_layer=False
    ).eval()
    ids, mask = encode(embedder.tokenizer, MIXED_LENGTHS)  # one batch, padded to the longest
    with torch.no_grad():
        hidden = model(
            input_ids=torch.as_tensor(ids), attention_mask=torch.as_tensor(mask)
        ).last_hidden_state.numpy()
    expected = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)

    spec, arrays = embedder.export()
    if kind == "bert":
        assert set(arrays) == {name for name, _ in model.named_parameters()}
    numpy_side = NumpyBertEmbedder(
        arrays,
        spec["tokenizer"],
        spec["max_length"],
        spec["num_layers"],
        spec["num_heads"],
        spec["layer_norm_eps"],
    )
    np.testing.assert_allclose(numpy_side.embed(MIXED_LENGTHS), vectors, atol=1e-5)

    # a token alone, between the tokens that open and close a text ([CLS] [SEP], <s> </s>)
    start, end = ("[CLS]", "[SEP]") if kind == "bert" else ("<s>", "</s>")
    token = embedder.tokenizer.token_to_id("army")
    alone = [[embedder.tokenizer.token_to_id(start), token, embedder.tokenizer.token_to_id(end)]]
    with torch.no_grad():
        reference = model(input_ids=torch.as_tensor(alone)).last_hidden_state.mean(1).numpy()
    np.testing.assert_allclose(embedder.token_vectors(np.array([token])), reference, atol=1e-5)


def test_a_task_models_bert_prefix_and_heads_are_left_out(
    bert_folder: Path, tmp_path: Path
) -> None:
    import transformers

    task = transformers.BertForSequenceClassification.from_pretrained(bert_folder, num_labels=3)
    task.save_pretrained(tmp_path)
    shutil.copy(bert_folder / "tokenizer.json", tmp_path)
    encoder = TorchBertEmbedder(str(bert_folder), max_length=16).export()[1]
    from_task = TorchBertEmbedder(str(tmp_path), max_length=16).export()[1]
    assert from_task.keys() == encoder.keys()
    assert all(np.array_equal(from_task[name], encoder[name]) for name in encoder)


def test_a_folder_without_a_bert_encoder_is_one_config_error(
    bert_folder: Path, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(bert_folder, tmp_path / "model"))
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    with pytest.raises(ConfigError, match=r"'roberta' model; give a BERT or MPNet encoder"):
        TorchBertEmbedder(str(folder), max_length=16)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ConfigError, match=r"has no tokenizer\.json"):
        TorchBertEmbedder(str(folder), max_length=16)
    with pytest.raises(ConfigError, match=r"cannot load 'not a model id!'.*local model folder"):
        TorchBertEmbedder("not a model id!", max_length=16)

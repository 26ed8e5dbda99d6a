"""The MiniLM forward pass under four runtimes: speed and fidelity to torch.

    TOPICS_DATA_DIR=../shared/data .venv/bin/python benchmarks/encoder_runtimes.py

Issue 17 asks whether onnxruntime with int8 dynamic quantization should replace the
numpy forward pass the bundle runs, and issue 19 whether it would bring the
embedding topics' fit time (the MiniLM pass over 20 Newsgroups) within 3x LDA's.
On a seeded draw of ``--docs`` texts of each dataset (nyt-cap: the test years,
64 tokens as its experiment; 20 Newsgroups: the test posts, 128 tokens), the
packaged all-MiniLM-L6-v2 mean-pools each text with:

- torch (float32, the training side), ``torch.set_num_threads(--threads)``;
- ours: :class:`topics.kernels.transformer.NumpyEncoder`, what ``classify`` runs;
- onnxruntime float32: the torch graph exported with ``torch.onnx.export``;
- onnxruntime int8: that graph through ``quantize_dynamic`` (int8 weights).

Every runtime gets the same token batches (``encode_by_length``, 64 texts of
similar length). Fidelity is each text's cosine to torch's vector. The table goes
to benchmarks/results/encoder_runtimes.md.

Needs the encoder extra plus ``onnxruntime onnx onnxscript`` (benchmark
dependencies: ``benchmarks/requirements-peers.txt``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import provenance  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.peers import load_split  # noqa: E402
from topics.families.sentence_encoder import TorchBertEmbedder  # noqa: E402
from topics.kernels.transformer import NumpyEncoder, encode_by_length  # noqa: E402

PRETRAINED = "sentence-transformers/all-MiniLM-L6-v2"
DATASETS = {
    "nyt-cap": ("experiments/nyt-cap-encoder.yaml", 64),
    "20newsgroups": ("experiments/20newsgroups-encoder.yaml", 128),
}
BATCH = 64


def test_texts(experiment: str, n: int) -> list[str]:
    _, _, test = load_split(experiment)
    pick = np.random.default_rng(0).choice(len(test), min(n, len(test)), replace=False)
    return [test.texts[i] for i in np.sort(pick)]


def pooled_torch(torch: Any, model: Any) -> Any:
    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: Any, mask: Any) -> Any:
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    return Pooled()


def onnx_files(embedder: TorchBertEmbedder, folder: Path) -> tuple[Path, Path]:
    """The pooled encoder exported to ONNX (float32) and its int8 dynamic quantization."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    torch = embedder.torch
    fp32, int8 = folder / "minilm.onnx", folder / "minilm-int8.onnx"
    example = torch.ones((2, 16), dtype=torch.int64)
    torch.onnx.export(
        pooled_torch(torch, embedder.model),
        (example, example),
        str(fp32),
        input_names=["ids", "mask"],
        output_names=["pooled"],
        dynamic_axes={"ids": {0: "n", 1: "t"}, "mask": {0: "n", 1: "t"}, "pooled": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


def runner(kind: str, embedder: TorchBertEmbedder, onnx: dict[str, Path], threads: int) -> Callable:
    if kind == "torch":
        torch = embedder.torch
        pooled = pooled_torch(torch, embedder.model)

        def run_torch(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return pooled(torch.as_tensor(ids), torch.as_tensor(mask)).numpy()

        return run_torch
    if kind == "ours (numpy)":
        spec, arrays = embedder.export()
        encoder = NumpyEncoder(
            arrays, spec["num_layers"], spec["num_heads"], spec["layer_norm_eps"]
        )
        return encoder
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        str(onnx[kind]), options, providers=["CPUExecutionProvider"]
    )
    return lambda ids, mask: session.run(None, {"ids": ids, "mask": mask})[0]


def measure(texts: list[str], max_length: int, threads: int, folder: Path) -> list[dict]:
    embedder = TorchBertEmbedder(PRETRAINED, max_length, BATCH, threads)
    batches = list(encode_by_length(embedder.tokenizer, texts, BATCH))
    onnx: dict[str, Path] = {}
    rows, reference = [], None
    for kind in ("torch", "ours (numpy)", "onnxruntime float32", "onnxruntime int8"):
        if kind.startswith("onnxruntime") and not onnx:
            # exported after torch has run: the exporter's tracing leaves the torch
            # model giving other vectors for padded batches
            fp32, int8 = onnx_files(embedder, folder)
            onnx = {"onnxruntime float32": fp32, "onnxruntime int8": int8}
        run = runner(kind, embedder, onnx, threads)
        run(*batches[-1][1:])  # warm up
        out = np.zeros((len(texts), embedder.config.hidden_size), dtype=np.float32)
        start = time.perf_counter()
        for index, ids, mask in batches:
            out[index] = run(ids, mask)
        seconds = time.perf_counter() - start
        unit = out / np.linalg.norm(out, axis=1, keepdims=True)
        reference = unit if reference is None else reference
        cosine = (unit * reference).sum(axis=1)
        size = os.path.getsize(onnx[kind]) / 1e6 if kind in onnx else None
        rows.append(
            {
                "runtime": kind,
                "docs/s": len(texts) / seconds,
                "min": cosine.min(),
                "mean": cosine.mean(),
                "size": size,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1000, help="texts per dataset (seeded draw)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/encoder_runtimes.md")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    commit = provenance.commit()  # the code that runs, whatever is committed meanwhile
    lines = [
        "| dataset | runtime | docs/s | speed vs torch | cosine to torch: min | mean | model file MB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        for dataset, (experiment, max_length) in DATASETS.items():
            texts = test_texts(experiment, args.docs)
            rows = measure(texts, max_length, args.threads, Path(folder))
            for row in rows:
                lines.append(
                    f"| {dataset} ({len(texts):,} texts, {max_length} tokens) | {row['runtime']} "
                    f"| {row['docs/s']:,.0f} | {row['docs/s'] / rows[0]['docs/s']:.2f}x "
                    f"| {row['min']:.4f} | {row['mean']:.4f} "
                    f"| {'' if row['size'] is None else format(row['size'], '.1f')} |"
                )
                print(lines[-1], flush=True)
    import onnxruntime
    import torch

    header = (
        "# The MiniLM forward pass under four runtimes\n\n"
        f"`python benchmarks/encoder_runtimes.py --docs {args.docs} --threads {args.threads}`, "
        f"commit {commit}, {datetime.date.today()}, 2 cores; torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}; load average before / after: "
        f"{load_before[0]:.2f} / {os.getloadavg()[0]:.2f}.\n\n"
        "Packaged all-MiniLM-L6-v2, mean-pooled; the same token batches (64 texts of "
        "similar length) for every runtime; one pass after a warm-up batch. "
        "Fidelity: each text's cosine to torch's vector.\n\n"
    )
    args.out.write_text(header + "\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

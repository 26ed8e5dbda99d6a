"""Arguments several ``topics`` commands share: the experiment and its ``--set``
overrides, the run's name."""

from __future__ import annotations

import argparse


def add_run_name_argument(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--run-name", metavar="NAME", help=f"name of the MLflow run (default: {default})"
    )


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", help="experiment YAML file, e.g. experiments/quickstart.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key (repeatable), e.g. --set model.lda.num_topics=12",
    )

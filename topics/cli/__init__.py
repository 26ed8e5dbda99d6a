"""The command-line front ends: ``topics`` (:mod:`topics.cli.main`) and ``classify``
(:mod:`topics.cli.classify`)."""

"""Prefect orchestration on top of DVC.

DVC owns the stage graph, the cache and lineage; the flows here only drive it (``dvc repro``,
``dvc exp run``), apply parameter overrides to ``params.yaml`` and publish what DVC produced.
Nothing in ``pose3d/`` or ``stages/`` imports this package. Importing it is cheap: Prefect is
imported only by ``pipelines.flows``.
"""

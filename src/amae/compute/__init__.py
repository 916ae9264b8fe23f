"""Where work runs: one process, a pool of spawned processes, or a Dask cluster (no amae imports).

Feature extraction, experiment cells and tuning trials all hand independent tasks to
:func:`amae.compute.tasks.run_tasks`; every worker it starts dies with the amae process that
started it (:mod:`amae.compute.lifeline`).
"""

"""Studies: scripts that measure and print (cost, quality against NFEs, seams, data size...); each
runs as ``python -m invsolve.benchmarks.studies.NAME`` and its output is kept under ``docs/logs``.
They run cases through ``invsolve.tasks.run_case`` and suites through the engine beside them."""

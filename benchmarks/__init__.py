"""The benchmark engine (suite files, the resumable sharded runner, tuning, reports), the suite files,
the GPU check, and ``studies``: scripts that measure and print. Nothing outside imports from here."""

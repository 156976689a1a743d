"""The training loss log, ``FILE.log.csv`` beside the prior: one row per step, written by rank 0."""

import csv
import time
from pathlib import Path

from invsolve.priors.run_state import Progress


class LossLog:
    """``<out>.log.csv``: one row per step (rank 0). A resumed run drops rows after the saved step."""

    COLUMNS = ("step", "images", "seconds", "patch_size", "loss", "lr")

    def __init__(self, path: Path, resume_step: int, active: bool):
        self.file, self.flushed = None, time.monotonic()
        if not active:
            return
        kept = []
        if resume_step and path.exists():
            with path.open(newline="") as f:
                kept = [row for row in csv.DictReader(f) if int(row["step"]) <= resume_step]
        self.file = path.open("w", newline="")
        self.writer = csv.DictWriter(self.file, self.COLUMNS)
        self.writer.writeheader()
        self.writer.writerows(kept)

    def add(self, done: Progress, patch_size: int, loss: float, lr: float) -> None:
        if self.file:
            self.writer.writerow(
                {
                    "step": done.step,
                    "images": int(done.images),
                    "seconds": f"{done.seconds:.2f}",
                    "patch_size": patch_size,
                    "loss": f"{loss:.6f}",
                    "lr": lr,
                }
            )
            if time.monotonic() - self.flushed > 10:  # let `tail -f` follow a long run
                self.file.flush()
                self.flushed = time.monotonic()

    def close(self) -> None:
        if self.file:
            self.file.close()

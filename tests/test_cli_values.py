"""Values the command line refuses while parsing, before anything loads: nonsense never runs."""

import pytest

from invsolve.cli import main

CASES = [
    ("reconstruct --op ct8 --inner -1", "--inner: must be at least 1"),
    ("reconstruct --op ct8 --inner 0", "--inner: must be at least 1"),
    ("reconstruct --op ct8 --zeta -1", "--zeta: must be a finite number, 0 or more"),
    ("reconstruct --op ct8 --lam 0", "--lam: must be a finite number above 0"),
    ("reconstruct --op ct8 --noise inf", "--noise: expected a finite number"),
    ("reconstruct --op ct8 --xi 1.5", "--xi: must lie in 0..1"),
    ("reconstruct --op ct8 --steps 2.5", "--steps: expected a whole number"),
    ("reconstruct --op ct8 --seed 18446744073709551616", "--seed: a seed must lie in 0..2^63-1"),
    ("reconstruct --op ct8 --seed -1", "--seed: a seed must lie in 0..2^63-1"),
    ("reconstruct --op ct8 --cg-iterations -3", "--cg-iterations: must be 0 or more"),
    ("train --lr nan --out p.safetensors", "--lr: expected a finite number"),
    ("train --lr 0 --out p.safetensors", "--lr: must be a finite number above 0"),
    ("train --batch 0 --out p.safetensors", "--batch: must be at least 1"),
    ("train --max-images 0 --out p.safetensors", "--max-images: must be at least 1"),
    ("sample --prior padis-ct --patch-size 0 --out s.png", "--patch-size: must be at least 1"),
    ("sample --prior padis-ct --pad -2 --out s.png", "--pad: must be 0 or more"),
    ("data prepare celeba a b --seed 1e3", "--seed: expected an integer seed"),
    ("reconstruct --op ct8 --image-size 100000", "--image-size: an image side of at most 8192 pixels"),
    ("train --image-size 0 --out p.safetensors", "--image-size: must be at least 1"),
    ("sample --prior padis-ct --image-size 9000 --out s.png", "--image-size: an image side of at most 8192"),
    ("data show phantoms --image-size 1e4 --out g.png", "--image-size: expected a whole number"),
    ("data show phantoms --count 0 --out g.png", "--count: must be at least 1"),
    ("data prepare celeba a b --size 20000", "--size: an image side of at most 8192"),
    ("data prepare celeba a b --test -1", "--test: must be 0 or more"),
    ("bench run s.toml --limit 0", "--limit: must be at least 1"),
]


@pytest.mark.parametrize("command, message", CASES, ids=[c for c, _ in CASES])
def test_nonsense_values_are_refused_in_one_line(command, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(command.split())
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and message in err and len(err.strip().splitlines()) == 1

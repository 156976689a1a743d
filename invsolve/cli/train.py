"""``invsolve train``: a PaDIS patch prior or a whole-image prior, on one CPU or many GPUs."""

import os
import shlex
import sys

from invsolve.catalog import DEVICE_CHOICES, NETWORK_SIZE_NAMES, PRIOR_KINDS
from invsolve.cli.options import count, float_list, image_side, int_list, positive, positive_int, seed
from invsolve.priors.training_config import TrainingConfig


def add_parser(commands) -> None:
    defaults = TrainingConfig(out="")
    train = commands.add_parser(
        "train",
        help="train a PaDIS patch prior or a whole-image prior",
        description="Train a diffusion prior with the EDM loss. One process by default; under "
        "`torchrun --nproc_per_node K` each process trains a DDP replica (gloo on CPU, nccl on GPU).",
    )
    train.add_argument("--prior", default="padis", choices=PRIOR_KINDS, help="default: padis")
    train.add_argument(
        "--data",
        default=defaults.data,
        metavar="{phantoms,photos,headct,FILE.inv3,DIR}",
        help="training images: phantoms, photos, headct (a real head CT), an .inv3 file or a folder "
        "(its train/ subfolder if it has one)",
    )
    train.add_argument(
        "--image-size",
        type=image_side,
        default=defaults.image_size,
        metavar="N",
        help=f"image side (default {defaults.image_size})",
    )
    train.add_argument("--channels", type=int, choices=[1, 3], help="default: the data's own")
    train.add_argument(
        "--patch-sizes",
        type=int_list,
        default=defaults.patch_sizes,
        metavar="P1,P2,...",
        help="patch sizes drawn per step (default 32,16,8); the largest is used at inference",
    )
    train.add_argument(
        "--patch-probs",
        type=float_list,
        default=defaults.patch_probs,
        metavar="p1,p2,...",
        help="their probabilities (default 0.5,0.3,0.2)",
    )
    train.add_argument(
        "--pad",
        type=count,
        help="zero border of the training images (default: the tightest grid pad "
        "of the largest patch, N//P*P+P-N capped at P-1)",
    )
    train.add_argument(
        "--no-positional",
        dest="positional",
        action="store_false",
        help="train without position channels (the paper's ablation)",
    )
    train.add_argument(
        "--objective",
        default=defaults.objective,
        choices=("edm", "eps"),
        help="edm: EDM's preconditioned denoiser and loss (Karras et al. 2022; default); eps: DDPM's "
        "epsilon prediction on its linear 1000-step schedule (Ho et al. 2020), loaded as a prior like any other",
    )
    train.add_argument(
        "--slices",
        type=positive_int,
        default=defaults.slices,
        metavar="K",
        help="a cross-slice prior: each patch stacks K neighbouring slices (odd; the slice and its "
        "neighbours) as channels and the network denoises the middle one; needs volume data (headct, "
        "headct-slabs). Default 1: a 2D prior",
    )
    train.add_argument("--net", default=defaults.net, choices=NETWORK_SIZE_NAMES, help="network size (default small)")
    train.add_argument(
        "--batch",
        type=positive_int,
        default=defaults.batch,
        help="patches per step at the largest patch size; smaller patches get proportionally more "
        f"(default {defaults.batch})",
    )
    train.add_argument("--lr", type=positive, default=defaults.lr, help=f"Adam learning rate (default {defaults.lr:g})")
    train.add_argument(
        "--ema-halflife",
        type=positive,
        default=defaults.ema_halflife,
        metavar="IMAGES",
        help="EMA half-life in images, ramped up as 5%% of the images seen (default 500000)",
    )
    train.add_argument(
        "--max-images",
        type=positive_int,
        metavar="N",
        help="train on the first N images only (default: all; phantoms: 1000)",
    )
    train.add_argument(
        "--duration", default=defaults.duration, help="training time (30m, 2h) or images (200k, 1.5M); default 30m"
    )
    train.add_argument(
        "--checkpoint-every",
        default=defaults.checkpoint_every,
        metavar="TIME",
        help="save the prior and the training state this often (default 10m)",
    )
    train.add_argument("--seed", type=seed, default=0)
    train.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    train.add_argument(
        "--out",
        required=True,
        metavar="FILE.safetensors",
        help="the prior file; FILE.state.safetensors (for --resume) and FILE.log.csv go beside it",
    )
    again = train.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue the run whose state is beside --out")
    again.add_argument(
        "--replace",
        action="store_true",
        help="start a new run over an existing --out (its state and loss log too); without it an existing "
        "prior file is refused",
    )


def run(args, argv) -> int:
    from invsolve.io import check_output
    from invsolve.priors import load, train
    from invsolve.priors.training import companion_paths

    check_output(args.out, (".safetensors",), "--out")
    config = TrainingConfig(
        **{k: v for k, v in vars(args).items() if k != "command"}, command=shlex.join(["invsolve", *argv])
    )
    out = train(config, progress=sys.stderr.isatty())
    if int(os.environ.get("RANK", "0")) == 0:
        trained = load(out).config["training"]
        _, state, log = companion_paths(out)
        print(
            f"wrote {out}: {trained['steps']} steps, {trained['images']:.0f} images in {trained['seconds']:.0f} s; "
            f"loss log {log}, training state {state}"
        )
    return 0

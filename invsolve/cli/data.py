"""``invsolve data show`` (a labelled grid of a source's images) and ``invsolve data prepare``."""

from invsolve.catalog import SPLITS
from invsolve.cli.options import Parser, count, image_side, positive_int, seed, window
from invsolve.units import CT_WINDOW_HU


def add_parser(commands) -> None:
    data = commands.add_parser("data", help="look at the built-in image sources or a folder of images")
    data_commands = data.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    show = data_commands.add_parser("show", help="draw the first images of a source as a labelled grid (PNG)")
    show.add_argument("source", help="phantoms, photos, headct, an .inv3 file or a folder path")
    show.add_argument("--split", default="test", choices=SPLITS)
    show.add_argument("--count", type=positive_int, default=8, help="number of images (default 8)")
    show.add_argument("--columns", type=positive_int, default=4)
    show.add_argument("--image-size", type=image_side, default=128, metavar="N")
    show.add_argument("--channels", type=int, choices=[1, 3], help="default: the source's own")
    show.add_argument("--out", required=True, metavar="FILE.png")
    prepare = data_commands.add_parser(
        "prepare",
        help="turn your copy of AAPM CT or CelebA-HQ into train/validation/test folders",
        description="aapm: DICOM volumes -> 256x256 slices in [0,1] (16-bit PNG), 9 volumes train, 25 slices of the "
        "tenth test, 25 slices of the ninth validation. celeba: images -> 256x256 RGB PNG, the first "
        "3000 train, a seeded 25 of the rest test and 25 validation.",
    )
    prepare.add_argument("dataset", choices=["aapm", "celeba"])
    prepare.add_argument("src", metavar="SRC", help="folder holding the original files (searched recursively)")
    prepare.add_argument("dst", metavar="DST", help="output folder (gets train/, validation/, test/)")
    prepare.add_argument("--size", type=image_side, default=256, help="image side (default 256)")
    prepare.add_argument("--test", type=count, default=25, help="test images (default 25)")
    prepare.add_argument("--validation", type=count, default=25, help="validation images (default 25)")
    prepare.add_argument("--train", type=count, default=3000, help="celeba: training images (default 3000)")
    prepare.add_argument("--slices", type=count, default=256, help="aapm: middle slices kept per volume (default 256)")
    prepare.add_argument(
        "--window",
        type=window,
        default=CT_WINDOW_HU,
        metavar="LOW,HIGH",
        help="aapm: HU mapped to 0..1 (default {:g},{:g})".format(*CT_WINDOW_HU),
    )
    prepare.add_argument("--seed", type=seed, default=0, help="celeba: seed of the test/validation draw")
    prepare.add_argument(
        "--replace",
        action="store_true",
        help="replace a non-empty DST that is not an earlier output of prepare (that one is always replaced whole)",
    )


def run(args, argv) -> int:
    return show_data(args) if args.data_command == "show" else prepare_data(args)


def show_data(args) -> int:
    from invsolve.data import get_source, source_location
    from invsolve.errors import InvsolveError
    from invsolve.figures import save_comparison
    from invsolve.io import check_distinct, check_output

    check_output(args.out, (".png",), "--out")
    check_distinct({"SOURCE": source_location(args.source)}, {"--out": args.out})
    source = get_source(args.source, args.split, args.image_size, args.channels)
    count = min(args.count, len(source))
    if count < 1:
        raise InvsolveError(f"--count must be at least 1, got {args.count}")
    panels = [(source.label(i), source[i]) for i in range(count)]
    rows = -(-count // max(args.columns, 1))
    save_comparison(
        args.out,
        panels,
        rows=rows,
        title=f"{args.source} ({args.split}, {args.image_size}x{args.image_size})",
        panel_inches=2.2,
    )
    print(f"wrote {args.out}: {count} of {len(source)} {args.split} images of {args.source}")
    return 0


def prepare_data(args) -> int:
    from invsolve.data.prepare import prepare_aapm, prepare_celeba

    if args.dataset == "aapm":
        counts = prepare_aapm(
            args.src,
            args.dst,
            size=args.size,
            slices=args.slices,
            test_slices=args.test,
            validation=args.validation,
            window=args.window,
            replace=args.replace,
        )
    else:
        counts = prepare_celeba(
            args.src,
            args.dst,
            size=args.size,
            train=args.train,
            test=args.test,
            validation=args.validation,
            seed=args.seed,
            replace=args.replace,
        )
    print(
        f"wrote {args.dst}: "
        + ", ".join(f"{n} {split}" for split, n in counts.items())
        + f" images ({args.size}x{args.size}); sources listed in {args.dst}/prepared.json"
    )
    return 0

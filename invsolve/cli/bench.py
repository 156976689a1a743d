"""``invsolve bench run / tune / report``: benchmark suites (TOML), validation tuning, tables and figures."""

import sys

from invsolve.catalog import DEVICE_CHOICES
from invsolve.cli.options import Parser, names, positive_int
from invsolve.solvers.settings import TUNED_FILE


def add_parser(commands) -> None:
    bench = commands.add_parser("bench", help="run benchmark suites (TOML), tune a method, report tables and figures")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True, parser_class=Parser)
    run_parser = bench_commands.add_parser(
        "run",
        help="run a suite's cells (resumable; sharded under torchrun or SLURM)",
        description="Run every (task, method, test image, seed) cell of a suite that the output folder does not hold "
        "yet. Under `torchrun --nproc_per_node K` or SLURM (RANK/WORLD_SIZE) each rank runs its share "
        "and writes its own results file.",
    )
    tune = bench_commands.add_parser(
        "tune",
        help="grid-search one method's settings on the validation split",
        description="Run METHOD at every combination of the --param values on the suite's validation images "
        "(never the test images) and write the best values per task to OUT/tuned.toml.",
    )
    for p in (run_parser, tune):
        p.add_argument("suite", metavar="SUITE.toml")
        p.add_argument("--out", metavar="DIR", help="output folder (default: bench-NAME, or bench-NAME-tune-METHOD)")
        p.add_argument("--limit", type=positive_int, metavar="N", help="images per task (default: the suite's count)")
        p.add_argument("--tasks", type=names, metavar="a,b", help="run these tasks only")
        p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="default: auto (CUDA when present)")
        p.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            dest="overrides",
            help="override a suite value, e.g. methods.padis.prior.ct=my.safetensors (repeatable)",
        )
    run_parser.add_argument("--methods", type=names, metavar="a,b", help="run these methods only")
    tune.add_argument("--method", required=True, help="the suite's method to tune")
    tune.add_argument(
        "--write",
        nargs="?",
        const=str(TUNED_FILE),
        metavar="FILE",
        help="also put the chosen values into a tuned table that runs read (default FILE: the package's own, "
        f"{TUNED_FILE.name}, used by every later reconstruct and bench run)",
    )
    tune.add_argument(
        "--param",
        action="append",
        required=True,
        metavar="NAME=V1,V2",
        help="values to try, e.g. zeta=0.1,0.3,1 (repeatable: the grid is every combination)",
    )
    rep = bench_commands.add_parser("report", help="merge results into report.md, CSVs and figures")
    rep.add_argument("out", metavar="DIR")


def run(args, argv) -> int:
    from invsolve.benchmarks.report import report
    from invsolve.benchmarks.runner import run_suite
    from invsolve.benchmarks.suite import load_suite
    from invsolve.benchmarks.tuning import parse_grid, tune

    if args.bench_command == "report":
        written = report(args.out)
        print(written["markdown"])
        print(f"wrote {', '.join(map(str, written['files'] + written['figures']))} ({written['cells']} cells)")
        return 0
    from invsolve.errors import InvsolveError
    from invsolve.io import check_distinct

    if args.limit is not None and args.limit < 1:
        raise InvsolveError(f"--limit must be at least 1, got {args.limit}")
    suite = load_suite(args.suite, args.overrides).select(args.tasks, getattr(args, "methods", None))
    progress = sys.stderr.isatty()
    if args.bench_command == "run":
        out = args.out or f"bench-{suite.name}"
        check_distinct({"SUITE": args.suite}, {"--out": out})
        done = run_suite(suite, out, limit=args.limit, device=args.device, progress=progress)
        print(
            f"rank {done['rank']}/{done['world']}: ran {done['ran']} cells, {done['skipped']} already finished, "
            f"{done['mine']} of {done['cells']} are this rank's; results in {done['out']} "
            f"(invsolve bench report {done['out']})"
        )
        return 0
    out = args.out or f"bench-{suite.name}-tune-{args.method}"
    check_distinct({"SUITE": args.suite}, {"--out": out, "--write": args.write})
    chosen = tune(
        suite,
        args.method,
        parse_grid(args.param),
        out,
        limit=args.limit,
        device=args.device,
        progress=progress,
        write=args.write,
    )
    if "pending" in chosen:
        print(f"{chosen['pending']} cells are still running on other ranks; the last rank writes {out}/tuned.toml")
        return 0
    print("\n".join(chosen["scores"]))
    print(chosen["toml"] + f"(written to {out}/tuned.toml; every point's scores in {out}/tuning.txt)")
    if "written" in chosen:
        print(f"updated the tuned table {chosen['written']}")
    return 0

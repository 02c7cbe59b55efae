"""Command line of the benchmark suite: `python -m benchmarks {list,run,plot,recompute,readme}`."""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys

from benchmarks import runner
from l2l import cli
from l2l.training.distribute import STRATEGIES


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    cli.add_debug_flag(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the benchmarks and their options")

    run = commands.add_parser("run", help="run benchmarks and write their results")
    run.add_argument("names", nargs="+", metavar="NAME", help="benchmark names, or 'all'")
    run.add_argument("--quick", action="store_true",
                     help="tiny settings, seconds per benchmark; written to --output "
                          f"(default {runner._relative(runner.QUICK_DIR)}/), never to "
                          "benchmarks/results/")
    run.add_argument("--seed", type=int, default=0, help="training seed (evaluation episodes "
                     "always use benchmarks.common.EVALUATION_SEED)")
    run.add_argument("-o", "--option", action="append", default=[], metavar="[NAME.]KEY=VALUE",
                     help="a benchmark option (see `list`); repeatable; lists are "
                          "comma-separated; NAME. limits it to one benchmark")
    run.add_argument("--output", default=None,
                     help="folder for the JSON and picture instead of the defaults")
    run.add_argument("--tag", default=None,
                     help="keep this full run beside the default one: writes <name>-<tag>.json "
                          "and benchmark_<name>-<tag>.png (e.g. a longer budget)")
    run.add_argument("--strategy", default="auto", choices=STRATEGIES,
                     help="tf.distribute strategy the models train under: auto (TF_CONFIG "
                          "names a cluster: multi-worker; several GPUs: mirrored; else one "
                          "device), one, mirrored (all local GPUs); see docs/scaling.md")
    run.add_argument("--episode-dir", default=None,
                     help="folder of the stored evaluation episodes (default "
                          "$L2L_EPISODE_DIR, else benchmarks/episodes/)")
    run.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                     help="import MODULE first (repeatable), e.g. one that registers your own "
                          "model kinds with l2l.presets.register_kind, so that "
                          "-o methods=yourkind (or -o kinds=) runs them")
    cli.add_debug_flag(run)
    run.add_argument("--dry-run", action="store_true",
                     help="check the names, tag and options, print what would run, and stop")
    run.add_argument("--tensorboard", default=None, metavar="DIR",
                     help="log every training run to TensorBoard under DIR/<name>/<cell>/ "
                          "(scalars, and evaluation episodes as images); open with "
                          "`tensorboard --logdir DIR`. Drawing the images counts in the "
                          "training budgets, so leave it off for timed results")
    run.add_argument("--regenerate-episodes", action="store_true",
                     help="replace stored evaluation sets that are stale or corrupt instead of "
                          "stopping with an error")

    plot = commands.add_parser("plot", help="redraw the pictures of stored results (after a "
                                "change to a module's plot function), without running anything")
    plot.add_argument("names", nargs="*", metavar="NAME", help="benchmark names (default: all)")
    plot.add_argument("--results", default=str(runner.RESULTS_DIR))
    recompute = commands.add_parser(
        "recompute", help="rebuild intervals, verdicts and notes of stored results from the raw "
                          "values their JSON keeps (modules with a recompute function), without "
                          "running anything")
    recompute.add_argument("names", nargs="*", metavar="NAME",
                           help="benchmark names (default: all that can)")
    recompute.add_argument("--results", default=str(runner.RESULTS_DIR))
    readme = commands.add_parser("readme", help="regenerate docs/results.md from the stored "
                                 "JSON, and README's headline table if it has the markers")
    readme.add_argument("--page", default=str(runner.ROOT / "docs" / "results.md"),
                        help="the results page to write")
    readme.add_argument("--readme", default=str(runner.ROOT / "README.md"))
    readme.add_argument("--results", default=str(runner.RESULTS_DIR))
    return parser.parse_args(argv)


def options_for(names: list[str], pairs: list[str]) -> dict[str, dict]:
    """`-o` pairs as a per-benchmark dict of parsed options; unknown keys are errors."""
    defaults = {name: runner.option_types(runner.load(name)) for name in names}
    chosen: dict[str, dict] = {name: {} for name in names}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise SystemExit(f"-o {pair!r}: expected KEY=VALUE or NAME.KEY=VALUE.")
        target, _, key = key.rpartition(".")
        if target and target not in names:
            raise SystemExit(f"-o {pair!r}: benchmark {target!r} is not being run.")
        takers = [n for n in ([target] if target else names) if key in defaults[n]]
        if not takers:
            raise SystemExit(f"-o {pair!r}: no benchmark being run has an option {key!r} "
                             f"(options: { {n: sorted(d) for n, d in defaults.items()} }).")
        for name in takers:
            try:
                chosen[name][key] = runner.parse_option(defaults[name][key], text)
            except ValueError as e:
                raise SystemExit(f"-o {pair!r}: {e}") from None
    return chosen


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.command == "list":
        print("Options default to None where the benchmark picks the value from the mode "
              "(quick or full); see each module's docstring.\n")
        for name in runner.available():
            module = runner.load(name)
            print(f"{name}: {runner.describe(module)}")
            kinds = runner.option_types(module)
            for key, default in runner.option_defaults(module).items():
                kind = kinds[key].__name__ if isinstance(kinds[key], type) else str(kinds[key])
                print(f"    -o {key}=...  ({kind}, default {default!r})")
        return 0
    if args.command == "plot":
        for path in runner.redraw(args.results, args.names):
            print(f"Redrew {path}")
        return 0
    if args.command == "recompute":
        for path in runner.recompute(args.results, args.names):
            print(f"Recomputed {path}")
        return 0
    if args.command == "readme":
        from benchmarks import readme

        print(f"Wrote {readme.write_results_page(args.page, args.results)}")
        if readme.update_readme(args.readme, args.results, args.page):
            print(f"Updated the headline table of {args.readme}")
        return 0
    for module in args.imports:
        importlib.import_module(module)
    names = runner.available() if args.names == ["all"] else list(dict.fromkeys(args.names))
    for name in names:
        runner.load(name)  # unknown names and bad tags fail before anything runs
        runner.result_stem(name, args.tag)
    options = options_for(names, args.option)
    command = "python -m benchmarks " + shlex.join(argv)
    if args.dry_run:
        for name in names:
            print(f"Would run {name} ({'quick' if args.quick else 'full'}) with options "
                  f"{options[name] or 'default'}")
        return 0
    for name in names:
        print(f"Running {name} ({'quick' if args.quick else 'full'})...", flush=True)
        path, result = runner.run_benchmark(
            name, quick=args.quick, seed=args.seed, options=options[name], output=args.output,
            command=command, episode_dir=args.episode_dir,
            regenerate_episodes=args.regenerate_episodes, tag=args.tag,
            strategy=args.strategy, progress=True, tensorboard=args.tensorboard)
        print(f"  {len(result['rows'])} rows in {result['duration_seconds']:.0f} s -> {path}"
              + (f", {result['plot']}" if result["plot"] else ""), flush=True)
    return 0


if __name__ == "__main__":
    # An l2l error (missing data, a stale episode set, ...) prints one line, exits with 2.
    cli.run(main, prog="python -m benchmarks")

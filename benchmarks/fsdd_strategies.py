"""Search strategies on real audio: FSDD with an unseen speaker (`theo` held out, the
default speaker-split fitness of three validation voices), 100 evaluations each, paired
over seeds. The arms are garay's best strategy on the tabular benchmarks (`ga=screened`),
the study's GA, random search and Optuna's TPE, all at 100 evaluations; `robust` adds the
`ga=robust` preset.

    python benchmarks/fsdd_strategies.py OUT --seeds 0-9 [--arms screened ga random tpe] \
        [--jobs 2] [--report-only] [garay overrides ...]

    e.g. python benchmarks/fsdd_strategies.py runs/fsdd_strategies train.early_stop=halving

Each (arm, seed) is one `garay` run in OUT/ARM-sSEED with `cluster.backend=inprocess`
(one core each; `--jobs` runs at a time). The script is resumable: a finished run
(summary.json) is kept, a killed one is continued with `resume=true`, so a campaign can
span several sittings. It then writes OUT/compare.csv, anytime.csv and anytime.png (as a
sweep does) and prints, per arm, the best validation, its test accuracy and worker-hours
(mean and bootstrap 95% interval over seeds) and every arm's test accuracy minus every
other's, paired by seed, and each arm against random search at random search's
worker-hours and after 28, 50, 75 and 100 evaluations. Last, why a strategy does or does not pay on this task, per
arm over seeds: how many networks it trained in full, how well their fitness ranks their
test accuracy (Spearman, all of them and the top fifth by fitness), how far the three
validation voices disagree about one network, and how much test accuracy the winner
leaves to the best network the run trained (which fitness could not pick out).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations
from pathlib import Path

import numpy as np

FSDD_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fsdd" / "recordings"
# 100 evaluations each: the study's preset breeds 6 children a generation (10 + 15 x 6);
# random search and TPE take their budget from the same preset; ga=screened and
# ga=robust are 100 by construction.
ARMS: dict[str, list[str]] = {
    "screened": ["ga=screened"],
    "ga": ["ga.mode=generational", "ga.generations=16"],
    "random": ["ga.mode=random", "ga.generations=16"],
    "tpe": ["ga.mode=tpe", "ga.generations=16"],
    "robust": ["ga=robust"],
}
KEYS = ["ga", "ga.mode", "seed"]


def common(root: Path) -> list[str]:
    """The protocol of the README's FSDD comparisons (docs: Does the search earn its compute?)."""
    return ["data=fsdd", f"data.root={root}", "data.split=speaker", "data.test_speakers=[theo]",
            "train.epochs=10", "cluster.backend=inprocess", "cluster.cpus_per_worker=1"]


def seeds_of(text: str) -> list[int]:
    """'0-9' or '0,3,5' -> seed numbers."""
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def run_one(out: Path, arm: str, seed: int, extra: list[str], root: Path) -> str:
    """Run (or finish) one arm and seed; returns a line saying what happened."""
    run_dir = out / f"{arm}-s{seed}"
    if (run_dir / "summary.json").exists():
        return f"{run_dir.name}: done before"
    resume = (run_dir / "history.jsonl").exists() or (run_dir / "checkpoint.json").exists()
    if run_dir.exists() and not resume:
        shutil.rmtree(run_dir)  # died before its first result: start it again
    garay = Path(sys.executable).parent / "garay"
    cmd = [str(garay), *common(root), *ARMS[arm], f"seed={seed}", *extra, f"hydra.run.dir={run_dir}"]
    if resume:
        cmd.append("resume=true")
    log = out / f"{arm}-s{seed}.out"
    with open(log, "a") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False).returncode
    return f"{run_dir.name}: {'resumed, ' if resume else ''}exit {rc} (log {log.name})"


def report(out: Path) -> None:
    """compare.csv, anytime.csv/png and the paired differences between arms."""
    from garay.results.anytime import bootstrap_mean, compare_text, load_runs, write_anytime
    from garay.results.sweep import load_jobs

    jobs = load_jobs(out) if out.is_dir() else []
    if not jobs:
        print(f"no finished runs in {out}")
        return
    runs = load_runs(out, jobs, KEYS)  # each history read once, for every table below
    print(compare_text(write_anytime(out, jobs, KEYS, runs)))
    by: dict[str, dict[int, dict]] = {}
    for r in runs:
        by.setdefault(r["job"].rsplit("-s", 1)[0], {})[r["seed"]] = r
    pairs = [(a, b, sorted(set(by[a]) & set(by[b]))) for a, b in combinations(sorted(by), 2)]
    pairs = [p for p in pairs if len(p[2]) >= 2]
    if not pairs:
        print("\nNo two arms share two finished seeds yet: no paired differences.")
    else:
        print("\nPaired by seed, A minus B (mean [bootstrap 95% interval], seeds both finished):")
        print("| A | B | seeds | best validation | its test accuracy | worker-hours |")
        print("|---|---|---|---|---|---|")
    for a, b, seeds in pairs:
        cells = []
        for key, scale in (("best_val", 1), ("best_test", 1), ("worker_seconds", 1 / 3600)):
            m, lo, hi = bootstrap_mean([(by[a][s][key] - by[b][s][key]) * scale for s in seeds])
            cells.append(f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        print(f"| {a} | {b} | {len(seeds)} | " + " | ".join(cells) + " |")
    print(equal_cost_text(by))
    print(by_budget_text(by))
    print(why_text(by))


def versus_baseline(by: dict[str, dict[int, dict]], axis: str, x_of, baseline: str = "random") -> list[str]:
    """Table rows `| arm | seeds | best validation | its test accuracy |`: each arm minus the
    baseline, both read on their anytime curves at the same point of `axis` (x_of(seed)),
    mean [bootstrap 95% interval] over the seeds both finished (at least two)."""
    from garay.results.anytime import bootstrap_mean, value_at

    rows = []
    for arm in sorted(set(by) - {baseline}) if baseline in by else []:
        seeds = sorted(set(by[arm]) & set(by[baseline]))
        if len(seeds) < 2:
            continue
        cells = []
        for key in ("best", "test"):
            diffs = [value_at(by[arm][s]["curve"], axis, x_of(s), key)
                     - value_at(by[baseline][s]["curve"], axis, x_of(s), key) for s in seeds]
            m, lo, hi = bootstrap_mean(diffs)
            cells.append(f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        rows.append(f"| {arm} | {len(seeds)} | " + " | ".join(cells) + " |")
    return rows


def equal_cost_text(by: dict[str, dict[int, dict]], baseline: str = "random") -> str:
    """Each arm against the baseline at the baseline's worker-hours, seed by seed: the
    incumbent each arm held once it had spent what the baseline spent in all (its final
    one if it spent less). Arms that train more networks in full cost more per evaluation."""
    rows = versus_baseline(by, "worker_seconds", lambda s: by[baseline][s]["worker_seconds"], baseline)
    if not rows:
        return f"\nNo arm shares two finished seeds with {baseline} yet: no comparison at equal cost."
    return "\n".join([f"\nAt {baseline}'s worker-hours (per seed), A minus {baseline}, paired by seed:",
                      "| A | seeds | best validation | its test accuracy |", "|---|---|---|---|", *rows])


def by_budget_text(by: dict[str, dict[int, dict]], baseline: str = "random") -> str:
    """Each arm against the baseline after as many evaluations, at 28 (the study's budget),
    50 and 75 where the runs went that far, and at the most any run made (a run that ended
    sooner keeps its final incumbent)."""
    most = max((len(r["curve"]["evaluations"]) for runs in by.values() for r in runs.values()), default=0)
    lines = [f"\nBy evaluations, A minus {baseline}, paired by seed:",
             "| evaluations | A | seeds | best validation | its test accuracy |", "|---|---|---|---|---|"]
    for n in [n for n in (28, 50, 75) if n < most] + [most]:
        lines += [f"| {n} " + row for row in versus_baseline(by, "evaluations", lambda s: n, baseline)]
    return "\n".join(lines) if len(lines) > 3 else ""


def spearman(x: list[float], y: list[float]) -> float:
    """Rank correlation (average ranks for ties); nan below 3 points or for a constant."""
    if len(x) < 3:
        return float("nan")
    rx, ry = (_ranks(np.asarray(v, float)) for v in (x, y))
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(v: np.ndarray) -> np.ndarray:
    """0-based ranks of v, ties sharing their mean rank."""
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v), dtype=float)
    for value in np.unique(v):
        tied = v == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def run_diagnostics(history: list[dict], best_test: float) -> dict[str, float]:
    """One run's figures on why selection does or does not find networks for a new voice.
    Only networks trained in full count (a stopped one's fitness is 0 by design)."""
    full: dict[str, dict] = {}
    for h in history:
        if h.get("status") == "ok" and not h.get("repeat"):
            full.setdefault(h["hash"], h)
    recs = sorted(full.values(), key=lambda h: -h["fitness"])
    fit = [h["fitness"] for h in recs]
    test = [h["test_accuracy"] for h in recs]
    top = max(3, len(recs) // 5)
    voices = [h["val_scores"] for h in recs if len(h.get("val_scores") or []) > 1]
    spread = [max(v) - min(v) for v in voices]
    return {"trained_in_full": float(len(recs)),
            "rank_corr_all": spearman(fit, test),
            "rank_corr_top_fifth": spearman(fit[:top], test[:top]),
            "voice_spread": float(np.median(spread)) if spread else float("nan"),
            "left_on_table": (max(test) - best_test) if test else float("nan")}


def why_text(by: dict[str, dict[int, dict]]) -> str:
    """Per arm, mean [bootstrap 95% interval] over seeds of `run_diagnostics`."""
    import math

    from garay.results.anytime import bootstrap_mean

    names = ["trained_in_full", "rank_corr_all", "rank_corr_top_fifth", "voice_spread", "left_on_table"]
    lines = [("\nWhy (per run, then mean [bootstrap 95% interval] over seeds): networks trained in "
             "full; Spearman of fitness with test accuracy over them and over their top fifth by "
             "fitness; median range of one network's three validation voices; best test accuracy "
             "among them minus the winner's:"),
             "| arm | seeds | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for arm in sorted(by):
        per = [run_diagnostics(r["history"], r["best_test"]) for r in by[arm].values()]
        cells = []
        for n in names:
            vals = [d[n] for d in per if not math.isnan(d[n])]
            m, lo, hi = bootstrap_mean(vals) if vals else (math.nan,) * 3
            cells.append(f"{m:.3g} [{lo:.3g}, {hi:.3g}]")
        lines.append(f"| {arm} | {len(per)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check_settings(arms: list[str], extra: list[str], root: Path) -> None:
    """Each arm's config composed and checked as `garay` checks it (a mistyped key, a bad
    value), before anything is written: a refused campaign leaves no OUT and no
    campaign.json that a corrected command would then be refused by."""
    from garay.api import compose
    from garay.config.validate import validate
    from garay.errors import ConfigError
    from garay.plugins import check

    for arm in arms:
        try:
            cfg = compose([*common(root), *ARMS[arm], *extra])
            validate(cfg)
            check(cfg)
        except ConfigError as exc:
            sys.exit(f"fsdd_strategies: arm {arm}: {exc}")


def check_same_protocol(out: Path, extra: list[str], root: Path) -> None:
    """A campaign continued in a later sitting must use the same overrides: its seeds are
    paired and its runs resumed, so a changed setting would mix two protocols silently."""
    record = out / "campaign.json"
    settings = {"common": common(root), "arms": ARMS, "extra": extra}
    if record.exists():
        before = json.loads(record.read_text())
        if before != json.loads(json.dumps(settings)):
            sys.exit(f"fsdd_strategies: {out} holds a campaign run with other settings "
                     f"(extra overrides {before.get('extra')}, asked {extra}); use another OUT")
    else:
        record.write_text(json.dumps(settings, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seeds", default="0-9", help="'0-9' or '0,3,5'")
    ap.add_argument("--arms", nargs="+", default=["screened", "ga", "random", "tpe"], choices=list(ARMS))
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (one core each)")
    ap.add_argument("--data-root", type=Path, default=FSDD_ROOT)
    ap.add_argument("--report-only", action="store_true")
    args, extra = ap.parse_known_args()
    if not args.report_only:  # --report-only reads OUT and writes only its report files
        check_settings(args.arms, extra, args.data_root)
        args.out.mkdir(parents=True, exist_ok=True)
        check_same_protocol(args.out, extra, args.data_root)
        # seed-major order: a campaign cut short still has every arm on the same seeds
        todo = [(arm, s) for s in seeds_of(args.seeds) for arm in args.arms]
        with ThreadPoolExecutor(args.jobs) as pool:
            for line in pool.map(lambda t: run_one(args.out, t[0], t[1], extra, args.data_root), todo):
                print(line, flush=True)
    report(args.out)


if __name__ == "__main__":
    main()

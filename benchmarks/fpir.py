"""1:N error rates at national gallery sizes, from measured genuine/impostor scores.

Searching N people multiplies false matches by about N. Hawiya's 1:N rule: at target
false-positive identification rate F, one comparison may false-match with at most F / N, so
a search needs evidence E = log10(N) - log10(F) (evidence = -log10 FMR, read off each
modality's *configured* calibration, ``settings.calibration(m)``). One modality decides at
its threshold ``score_for(E)``; several add their evidence, each capped at what its
calibration measured (``max_evidence``); a search is *decidable* only when E <= the sum of
the captured modalities' ``max_evidence`` (no decision rests on an extrapolated curve).

For gallery sizes N and target FPIRs F, per modality and for fusions, this prints:

* decidable (yes/no by the rule above) and the evidence E needed (per-comparison FMR F/N);
* the threshold: the modality's score ``score_for(E)``, or for a fusion the summed evidence E;
* empirical FPIR = 1 - (1 - FMR_emp)^N, FMR_emp the share of measured impostor comparisons
  accepted at that threshold; when none is accepted, the rule-of-three bound
  FMR <= 3 / n_impostor is used and the FPIR is marked "≤";
* FNIR = FNMR_emp at that threshold (the mate scores below it);
* what a ministry should take from the row.

A row that is not decidable names nobody under the rule (FPIR 0, FNIR 100%); its
empirical columns (marked †) show what the *extrapolated* threshold would have given.

Scores come from ``hawiya eval ... --scores FILE.npz`` (``genuine``, ``impostor``). When the
files are missing the evals are run here (face: georgia_tech + yale, iris: casia1, finger:
FVC2002 DB1_B..DB4_B with ``--fvc``; a few minutes) and cached under ``--cache``. Each
modality's sets are pooled (impostors within each set only).

Fusion and independence. Fused scores come from *chimeric* pairs: each modality's genuine
scores are randomly paired with the other modalities' genuine scores, impostors likewise
(every pool is shuffled and tiled to the largest pool's size, or ``--chimeric``). This
assumes the modalities' scores are independent given the pair: face, iris and finger of one
person; the left and right irises (treated as two independent modalities, which is close for
impostors since iris texture is epigenetic, though capture conditions correlate genuine
scores); and different fingers (optimistic: a person's fingers share pattern classes, so
impostor scores across fingers correlate). Several fingers or both irises draw from the same
pool. Real captures of one person are correlated (same session, same cooperation), so fused
FNIRs here are optimistic, and fused FMRs rest on that assumption.

Caveats: the configured calibration was measured on these same sets (face on Yale, iris on
CASIA V1, finger on FVC2002), except Georgia Tech faces, so this checks consistency, not a
deployment; and one comparison per person per modality is assumed (a person enrolled with k
templates, or searched with k probes, counts k times in N).

    python benchmarks/fpir.py
    python benchmarks/fpir.py --sizes 1k,1M --fpir 1e-3 --json
    python benchmarks/fpir.py --scores face=face.npz --combos face,face+iris*2
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hawiya.biometrics.fusion import Calibration  # noqa: E402
from hawiya.config import load_settings  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# modality -> [(set name, path under DATA, extra eval arguments)]
SOURCES: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "face": [("georgia_tech", "face/georgia_tech", ()), ("yale", "face/yale", ())],
    "iris": [("casia1", "iris/casia1", ())],
    "finger": [(f"DB{k}_B", f"finger/fvc2002/DB{k}_B", ("--fvc",)) for k in range(1, 5)],
}
DEFAULT_COMBOS = ("face,iris,finger,face+iris,face+finger,iris+finger,iris*2,finger*2,"
                  "face+iris*2,iris*2+finger*2,finger*10")
EPS = 1e-9  # the rule's tolerance (hawiya.identity.decisions)


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000, "b": 1_000_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def size_label(n: int) -> str:
    for div, suf in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if n >= div and n % div == 0:
            return f"{n // div}{suf}"
    return f"{n:,}"


def parse_combo(text: str) -> tuple[str, ...]:
    """"face+iris*2" -> ("face", "iris", "iris")."""
    slots: list[str] = []
    for part in text.split("+"):
        name, _, times = part.strip().partition("*")
        if not name:
            raise ValueError(f"bad combination {text!r}")
        slots += [name.strip()] * (int(times) if times else 1)
    return tuple(slots)


def combo_label(slots: tuple[str, ...]) -> str:
    plural = {"iris": "irises", "finger": "fingers", "face": "faces"}
    out = []
    for m in dict.fromkeys(slots):
        k = slots.count(m)
        out.append(m if k == 1 else f"{k} {plural.get(m, m + 's')}")
    return " + ".join(out)


def g(x: float) -> str:
    """A rate for people: 0.0123 -> 1.2e-02, 0 -> 0."""
    return "0" if x == 0 else f"{x:.1e}"


def pct(x: float) -> str:
    return f"{100 * x:.1f}%" if x < 0.9995 or x == 1 else "99.9%"


# ------------------------------------------------------------------ scores


def run_eval_cli(modality: str, path: Path, extra: tuple[str, ...], npz: Path,
                 cache: Path) -> None:
    cmd = [sys.executable, "-m", "hawiya.cli", "eval", modality, str(path), *extra,
           "--out", str(cache), "--scores", str(npz), "--json"]
    print(f"running: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0 or not npz.exists():
        raise SystemExit(f"hawiya eval {modality} {path} failed (exit {p.returncode}): "
                         f"{p.stdout[-2000:]}")


def load_scores(args) -> dict[str, dict]:
    """modality -> {"genuine", "impostor" (pooled arrays), "sources": [...]}"""
    given: dict[str, list[Path]] = {}
    for spec in args.scores or []:
        mod, sep, path = spec.partition("=")
        if not sep:
            raise SystemExit(f"--scores wants MODALITY=FILE.npz, got {spec!r}")
        given.setdefault(mod.strip(), []).append(Path(path))
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[tuple[str, Path]]] = {m: [(p.stem, p) for p in ps]
                                                for m, ps in given.items()}
    for mod, sets in SOURCES.items():
        if mod in files:
            continue
        files[mod] = []
        for name, rel, extra in sets:
            npz = cache / f"{mod}-{name}.npz"
            if args.refresh or not npz.exists():
                src = Path(args.data) / rel
                if not src.exists():
                    print(f"skipping {mod}/{name}: no scores at {npz} and no data at {src}",
                          file=sys.stderr)
                    continue
                run_eval_cli(mod, src, extra, npz, cache)
            files[mod].append((name, npz))
    out: dict[str, dict] = {}
    for mod, lst in files.items():
        if not lst:
            continue
        gen, imp, sources = [], [], []
        for name, npz in lst:
            with np.load(npz) as z:
                gen.append(np.asarray(z["genuine"], dtype=np.float64))
                imp.append(np.asarray(z["impostor"], dtype=np.float64))
                algo = str(z["algorithm"]) if "algorithm" in z.files else ""
            sources.append({"set": name, "file": str(npz), "algorithm": algo,
                            "genuine": int(gen[-1].size), "impostor": int(imp[-1].size)})
        out[mod] = {"genuine": np.concatenate(gen), "impostor": np.concatenate(imp),
                    "sources": sources,
                    "sets": [(x["set"], a, b) for x, a, b in zip(sources, gen, imp, strict=True)]}
    return out


def tiled(pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws from ``pool``: shuffled copies end to end, so every score is used
    floor(n/len) or ceil(n/len) times."""
    reps = -(-n // pool.size)
    return np.concatenate([rng.permutation(pool) for _ in range(reps)])[:n]


# ------------------------------------------------------------------ one combination


@dataclass
class Combo:
    slots: tuple[str, ...]
    cals: list[Calibration]
    gen: list[np.ndarray]  # per slot, chimeric (aligned across slots)
    imp: list[np.ndarray]

    @property
    def label(self) -> str:
        return combo_label(self.slots)

    @property
    def reach(self) -> float:
        return sum(c.max_evidence for c in self.cals)

    def evidence(self, which: str, capped: bool) -> np.ndarray:
        arrs = self.gen if which == "gen" else self.imp
        total = np.zeros(arrs[0].size)
        for cal, s in zip(self.cals, arrs, strict=True):
            ev = np.asarray(cal.evidence(s), dtype=np.float64)
            total += np.minimum(ev, cal.max_evidence) if capped else ev
        return total


def build_combo(slots: tuple[str, ...], scores: dict, cals: dict[str, Calibration],
                chimeric: int, rng: np.random.Generator) -> Combo:
    if len(slots) == 1:
        m = slots[0]
        return Combo(slots, [cals[m]], [scores[m]["genuine"]], [scores[m]["impostor"]])
    ng = chimeric or max(scores[m]["genuine"].size for m in slots)
    ni = chimeric or max(scores[m]["impostor"].size for m in slots)
    return Combo(slots, [cals[m] for m in slots],
                 [tiled(scores[m]["genuine"], ng, rng) for m in slots],
                 [tiled(scores[m]["impostor"], ni, rng) for m in slots])


def fpir_of(fmr: float, n: int) -> float:
    return float(-np.expm1(n * np.log1p(-fmr))) if fmr < 1 else 1.0


def evaluate_row(c: Combo, n: int, target: float, cache: dict) -> dict:
    need = math.log10(n) - math.log10(target)
    decidable = need <= c.reach + EPS
    single = len(c.slots) == 1
    if single:
        threshold = c.cals[0].score_for(need)  # extrapolated when not decidable
        gen, imp = c.gen[0], c.imp[0]
    else:
        threshold = need
        key = "capped" if decidable else "uncapped"
        if key not in cache:
            cache[key] = (c.evidence("gen", decidable), c.evidence("imp", decidable))
        gen, imp = cache[key]
        threshold -= EPS
    accepted = int(np.count_nonzero(imp >= threshold))
    n_imp, n_gen = int(imp.size), int(gen.size)
    bound = accepted == 0
    fmr = (3 / n_imp) if bound else accepted / n_imp
    row = {
        "combo": c.label, "modalities": list(c.slots), "target_fpir": target,
        "gallery": n, "evidence_needed": round(need, 3), "fmr_needed": target / n,
        "reachable": round(c.reach, 3), "decidable": decidable,
        "threshold": round(float(threshold if single else need), 6),
        "threshold_kind": c.slots[0] + " score" if single else "fused evidence",
        "thresholds": {m: round(cal.score_for(min(need, cal.max_evidence)), 6)
                       for m, cal in zip(c.slots, c.cals, strict=True)},
        "extrapolated": not decidable,
        "impostor_accepted": accepted, "n_impostor": n_imp, "n_genuine": n_gen,
        "fmr_emp": fmr, "fmr_upper_bound": bound,
        "fpir_emp": fpir_of(fmr, n), "fpir_upper_bound": bound,
        "fnir": float(np.count_nonzero(gen < threshold)) / n_gen,
    }
    return row


# ------------------------------------------------------------------ words for a ministry


def takeaway(row: dict, rows: list[dict]) -> str:
    n, f = size_label(row["gallery"]), f"{row['target_fpir']:g}"
    who = row["combo"]
    if not row["decidable"]:
        better = [r for r in rows if r["decidable"] and r["gallery"] == row["gallery"]
                  and r["target_fpir"] == row["target_fpir"]
                  and all(r["modalities"].count(m) >= row["modalities"].count(m)
                          for m in set(row["modalities"]))]
        better.sort(key=lambda r: (len(r["modalities"]), r["fnir"]))
        add = f"; use {better[0]['combo']}" if better else "; nothing measured here can"
        return (f"{who} cannot single out one person among {n} at FPIR {f}: it needs "
                f"FMR {row['fmr_needed']:.0e} per comparison, calibrated only to "
                f"{10 ** -row['reachable']:.0e}{add}.")
    misses = row["fnir"]
    finds = ("finds nobody (every mate falls below the threshold)" if misses >= 1 else
             f"misses {pct(misses)} of enrolled people")
    if row["fpir_upper_bound"]:
        if row["fpir_emp"] <= row["target_fpir"]:
            fp = f"no false match in {row['n_impostor']:,} impostor trials confirms it"
        else:
            need = 3 * row["gallery"] / row["target_fpir"]
            fp = (f"FPIR unconfirmed: {row['n_impostor']:,} impostor trials without a false "
                  f"match bound it only at ≤ {g(row['fpir_emp'])}; confirming needs "
                  f"~{need:.0e}")
    elif row["fpir_emp"] <= row["target_fpir"]:
        fp = f"measured FPIR {g(row['fpir_emp'])} is within target"
    else:
        fp = (f"measured FPIR {g(row['fpir_emp'])} exceeds the target: the calibration is "
              f"optimistic on this data, recalibrate")
    verdict = "can" if misses < 0.5 else "can on paper, but is useless:"
    return f"{who} {verdict} search {n} at FPIR {f}; {finds}; {fp}."


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1k,100k,1M,10M", help="gallery sizes, e.g. 1k,1M")
    ap.add_argument("--fpir", default="1e-3,1e-2", help="target FPIRs, comma-separated")
    ap.add_argument("--combos", default=DEFAULT_COMBOS,
                    help="comma-separated; '+' fuses, '*k' repeats (k irises/fingers)")
    ap.add_argument("--scores", action="append", metavar="MODALITY=NPZ",
                    help="score file from `hawiya eval ... --scores` (repeat; several for one "
                         "modality are pooled; replaces that modality's default sets)")
    ap.add_argument("--cache", default="/tmp/hawiya-fpir",
                    help="where the default evals' score files and reports are kept")
    ap.add_argument("--refresh", action="store_true", help="re-run the default evals")
    ap.add_argument("--data", default=str(DATA), help="the shared data folder")
    ap.add_argument("--data-dir", default=None,
                    help="Hawiya data folder whose configuration gives the calibration")
    ap.add_argument("--chimeric", type=int, default=0,
                    help="chimeric pairs per fusion (default: the largest pool's size)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    args = ap.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    targets = [float(s) for s in args.fpir.split(",") if s.strip()]
    combos = [parse_combo(c) for c in args.combos.split(",") if c.strip()]

    settings = load_settings(args.data_dir)
    scores = load_scores(args)
    mods = sorted({m for c in combos for m in c})
    missing = [m for m in mods if m not in scores]
    if missing:
        print(f"no scores for {', '.join(missing)}: dropping the combinations that need them",
              file=sys.stderr)
        combos = [c for c in combos if not set(c) & set(missing)]
    cals = {m: settings.calibration(m) for m in mods if m in scores}

    # -- the data and the calibration it is read with
    data = Table(title="Scores and the configured calibration (measured FMR at each point)")
    for col in ("modality", "set", "genuine", "impostor", "max evidence", "calibration point: "
                "configured FMR → measured FMR here"):
        data.add_column(col, justify="right" if col in ("genuine", "impostor") else "left")
    data_json: dict = {}
    for m, cal in cals.items():
        s = scores[m]
        pools = [*s["sets"], ("pooled", s["genuine"], s["impostor"])]
        data_json[m] = {"sources": s["sources"], "genuine": int(s["genuine"].size),
                        "impostor": int(s["impostor"].size),
                        "calibration": [list(p) for p in cal.points],
                        "max_evidence": cal.max_evidence, "measured_fmr": {}}
        for i, (name, gen, imp) in enumerate(pools):
            meas = {f"{f:g}": float(np.mean(imp >= t)) for f, t in cal.points}
            data_json[m]["measured_fmr"][name] = meas
            data.add_row(m if i == 0 else "", name, f"{gen.size:,}", f"{imp.size:,}",
                         f"{cal.max_evidence:g}" if name == "pooled" else "",
                         "  ".join(f"{f:g}@{t:g}→{g(meas[f'{f:g}'])}" for f, t in cal.points))
    console.print(data)

    # -- the rule at each size and target
    rng = np.random.default_rng(args.seed)
    rows: list[dict] = []
    for slots in combos:
        c = build_combo(slots, scores, cals, args.chimeric, rng)
        cache: dict = {}
        for f in targets:
            for n in sizes:
                rows.append(evaluate_row(c, n, f, cache))
    for r in rows:
        r["takeaway"] = takeaway(r, rows)

    table = Table(title="1:N at national scale: the configured calibration's rule vs. measured "
                        "scores", show_lines=False)
    table.add_column("modalities")
    table.add_column("FPIR", justify="right")
    table.add_column("N", justify="right")
    table.add_column("decidable")
    table.add_column("evidence needed\n(FMR/comparison)", justify="right")
    table.add_column("threshold", justify="right")
    table.add_column("empirical FPIR", justify="right")
    table.add_column("FNIR", justify="right")
    table.add_column("what it means", ratio=1, min_width=60)
    last = None
    for r in rows:
        if last is not None and r["combo"] != last:
            table.add_section()
        first = r["combo"] != last
        last = r["combo"]
        mark = "" if r["decidable"] else "†"
        style = None if r["decidable"] else "dim"
        thr = (f"{r['threshold_kind'].split()[0]} ≥ {r['threshold']:.4f}"
               if len(r["modalities"]) == 1 else f"Σ evidence ≥ {r['threshold']:.2f}")
        fp = ("≤ " if r["fpir_upper_bound"] else "") + g(r["fpir_emp"])
        table.add_row(r["combo"] if first else "", f"{r['target_fpir']:g}",
                      size_label(r["gallery"]),
                      "[green]yes[/]" if r["decidable"] else "[red]no[/]",
                      f"{r['evidence_needed']:.1f} ({r['fmr_needed']:.0e})",
                      thr + mark, fp + mark, pct(r["fnir"]) + mark, r["takeaway"], style=style)
    console.print(table)
    console.print(
        "† not decidable: under the rule the search names nobody (FPIR 0, FNIR 100%); the "
        "threshold and rates shown are what the extrapolated calibration would give.\n"
        "≤: no measured impostor comparison reached the threshold; FPIR from the rule-of-three "
        "bound FMR ≤ 3/n_impostor.\n"
        "Fusions: chimeric pairs, modalities assumed independent (face, iris, finger; left and "
        "right iris; different fingers), evidence capped at each calibration's max; "
        f"{args.chimeric or 'largest-pool'} pairs, seed {args.seed}. One comparison per person "
        "per modality.")
    if args.json:
        print(json.dumps({"sizes": sizes, "target_fpir": targets, "data": data_json,
                          "chimeric": args.chimeric or "largest pool", "seed": args.seed,
                          "independence": "modalities independent given the pair; chimeric "
                                          "pairs (random pairing of per-modality scores)",
                          "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

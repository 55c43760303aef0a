"""1:N error rates at national gallery sizes, from measured genuine/impostor scores.

Searching N people multiplies false matches by about N. This benchmark applies the product's
own 1:N rule (``hawiya.identity.decisions``, the functions the search calls) to measured
scores and reports what it does at gallery sizes up to 10M. At target false-positive
identification rate F, a search may false-match any one person with probability at most
F / N. Per person and modality the product compares m = probes x templates per person (a
left-iris probe against both enrolled irises: m = 2; both irises: 2 x 2; ten fingers:
10 x 10) and keeps the best score; evidence = -log10 FMR is read off the modality's
*configured* calibration (``settings.calibration(m)``) and capped at what it measured
(``max_evidence``).

* one modality decides when its best score reaches ``score_for(log10(m·N/F))``;
* several modalities decide when their summed capped evidence reaches
  ``fused_evidence_needed(caps, mults, F/N)`` (the sum whose false-match chance, every
  modality exactly calibrated, independent and capped, is F/N);
* a search is *decidable* when that evidence is within the caps (else the product names
  nobody and says so).

For gallery sizes N and target FPIRs F it prints, per combination of modalities: decidable,
the evidence needed and the threshold; the empirical FPIR = 1 - (1 - FMR_person)^N, with
FMR_person the measured share of impostor people accepted (when none is, the rule-of-three
bound 3 / trials, marked "≤"); the FNIR (mates not named); the FPIR/FNIR of the old plain
rule "summed evidence ≥ log10(N/F)" for comparison; and a sentence for a ministry. A row that
is not decidable names nobody (FPIR 0, FNIR 100%): its figures (marked †) are what the
*extrapolated* calibration would have given. ``--markdown`` prints the main table for the
README.

Scores come from ``hawiya eval ... --scores FILE.npz`` (``genuine``, ``impostor``). When the
files are missing the evals are run here (face: georgia_tech + yale, iris: casia1, finger:
FVC2002 DB1_B..DB4_B with ``--fvc``; a few minutes) and cached under ``--cache``. Each
modality's sets are pooled (impostors within each set only).

People, not pairs. A combination names each modality once, ``*k`` for k probes against k
templates per person (``iris*2``: both eyes, m = 4) or ``*PxT`` (``iris*1x2``: one eye
against both enrolled, m = 2). An impostor person's score for a modality is the best of m
impostor comparisons; a mate's is the best of P genuine comparisons (each probe against its
own eye or finger) and P·(T-1) comparisons against the person's other eyes or fingers, drawn
from the impostor pool. One modality's rates are computed exactly from the pools (best of m
independent draws); fusions draw chimeric people (every modality's best-of-m score drawn
independently; as many people as the largest pool, or ``--chimeric``). Both assume
independence: face, iris and finger of one person; left and right irises (close for
impostors, iris texture is epigenetic; capture conditions correlate a mate's scores); and
different fingers (optimistic: a person's fingers share pattern classes). Real captures of
one person are correlated, so FNIRs of several probes or modalities here are optimistic, and
their FMRs rest on that assumption. A fusion's rule-of-three bound counts chimeric people,
which reuse the pools' scores.

Caveats: the configured calibration was measured on these same sets (face on Yale, iris on
CASIA V1, finger on FVC2002), except Georgia Tech faces, so this checks consistency, not a
deployment.

    python benchmarks/fpir.py
    python benchmarks/fpir.py --markdown
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

from hawiya.biometrics.fusion import MAX_EVIDENCE, Calibration  # noqa: E402
from hawiya.config import load_settings  # noqa: E402
from hawiya.identity.decisions import fused_evidence_needed  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# modality -> [(set name, path under DATA, extra eval arguments)]
SOURCES: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "face": [("georgia_tech", "face/georgia_tech", ()), ("yale", "face/yale", ())],
    "iris": [("casia1", "iris/casia1", ())],
    "finger": [(f"DB{k}_B", f"finger/fvc2002/DB{k}_B", ("--fvc",)) for k in range(1, 5)],
}
DEFAULT_COMBOS = ("face,iris,iris*2,finger,finger*2,finger*10,face+iris*2,face+finger*2,"
                  "iris*2+finger*2,face+iris*2+finger*10")
EPS = 1e-9  # the rule's tolerance (hawiya.identity.decisions.candidate_decision)
MARKDOWN_ROWS = 45


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000, "b": 1_000_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def size_label(n: int) -> str:
    for div, suf in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if n >= div and n % div == 0:
            return f"{n // div}{suf}"
    return f"{n:,}"


@dataclass(frozen=True)
class Slot:
    """One modality of a search: ``probes`` captures against ``templates`` per person."""

    modality: str
    probes: int = 1
    templates: int = 1

    @property
    def comparisons(self) -> int:
        return self.probes * self.templates

    @property
    def label(self) -> str:
        plural = {"iris": "irises", "finger": "fingers", "face": "faces"}
        k = self.probes
        if k == self.templates:
            return self.modality if k == 1 else f"{k} {plural.get(self.modality, self.modality)}"
        return f"{self.modality} ({k}×{self.templates})"


def parse_combo(text: str) -> tuple[Slot, ...]:
    """"face+iris*2" -> (face 1x1, iris 2x2); "iris*1x2" -> one probe, two templates."""
    slots: list[Slot] = []
    for part in text.split("+"):
        name, _, times = part.strip().partition("*")
        name = name.strip()
        if not name:
            raise ValueError(f"bad combination {text!r}")
        p, _, t = times.strip().lower().partition("x")
        probes = int(p) if p else 1
        templates = int(t) if t else probes
        if not 1 <= probes <= templates:
            raise ValueError(f"{part!r}: want 1 <= probes <= templates")
        if any(s.modality == name for s in slots):
            raise ValueError(f"{text!r}: one modality once (several probes: {name}*k)")
        slots.append(Slot(name, probes, templates))
    return tuple(slots)


def combo_label(slots: tuple[Slot, ...]) -> str:
    return " + ".join(s.label for s in slots)


def g(x: float) -> str:
    """A rate for people: 0.0123 -> 1.2e-02, 0 -> 0."""
    return "0" if x == 0 else f"{x:.1e}"


def pct(x: float) -> str:
    if x == 0 or x == 1:
        return f"{100 * x:.0f}%"
    if x < 1e-4:
        return "<0.01%"
    if x < 0.01:
        return f"{100 * x:.2f}%"
    return f"{100 * x:.1f}%" if x < 0.9995 else "99.9%"


# ------------------------------------------------------------------ scores


def run_eval_cli(modality: str, path: Path, extra: tuple[str, ...], npz: Path,
                 cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "hawiya.cli", "eval", modality, str(path), *extra,
           "--out", str(cache), "--scores", str(npz), "--json"]
    print(f"running: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0 or not npz.exists():
        raise SystemExit(f"hawiya eval {modality} {path} failed (exit {p.returncode}): "
                         f"{p.stdout[-2000:]}")


def load_scores(args, needed: set[str]) -> dict[str, dict]:
    """modality -> {"genuine", "impostor" (pooled arrays), "sources": [...]} for the
    ``needed`` modalities."""
    given: dict[str, list[Path]] = {}
    for spec in args.scores or []:
        mod, sep, path = spec.partition("=")
        if not sep:
            raise SystemExit(f"--scores wants MODALITY=FILE.npz, got {spec!r}")
        given.setdefault(mod.strip(), []).append(Path(path))
    cache = Path(args.cache)
    files: dict[str, list[tuple[str, Path]]] = {m: [(p.stem, p) for p in ps]
                                                for m, ps in given.items()}
    for mod, sets in SOURCES.items():
        if mod in files or mod not in needed:
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
        if not lst or mod not in needed:
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



def best_of(pool: np.ndarray, k: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` draws of the best of ``k`` scores drawn (with replacement) from the sorted
    ``pool``: the maximum of k uniforms is U^(1/k), read off the pool's quantiles."""
    if k == 0:
        return np.full(size, -np.inf)
    idx = (rng.random(size) ** (1.0 / k) * pool.size).astype(np.int64)
    return pool[np.minimum(idx, pool.size - 1)]


def fpir_of(fmr: float, n: int) -> float:
    return float(-np.expm1(n * np.log1p(-fmr))) if fmr < 1 else 1.0


def best_of_fmr(p: float, m: int) -> float:
    """P(best of m comparisons accepted) when one is accepted with probability p."""
    return float(-np.expm1(m * np.log1p(-p))) if p < 1 else 1.0


# ------------------------------------------------------------------ one combination


@dataclass
class Combo:
    slots: tuple[Slot, ...]
    cals: list[Calibration]
    pools: list[tuple[np.ndarray, np.ndarray]]  # per slot: sorted (genuine, impostor) pools
    gen: list[np.ndarray] | None = None  # fusions: per slot, chimeric people's best scores
    imp: list[np.ndarray] | None = None

    def __post_init__(self) -> None:
        self._cache: dict = {}

    @property
    def label(self) -> str:
        return combo_label(self.slots)

    @property
    def single(self) -> bool:
        return len(self.slots) == 1

    @property
    def caps(self) -> list[float]:
        return [c.max_evidence for c in self.cals]

    @property
    def mults(self) -> list[int]:
        return [s.comparisons for s in self.slots]

    @property
    def reach(self) -> float:
        return sum(self.caps)

    def evidence(self, capped: bool) -> tuple[np.ndarray, np.ndarray]:
        """Summed evidence of the chimeric mates and impostors (capped as the product
        does, or uncapped: the extrapolated calibration)."""
        if capped not in self._cache:
            out = []
            for arrs in (self.gen, self.imp):
                total = np.zeros(arrs[0].size)
                for cal, s in zip(self.cals, arrs, strict=True):
                    ev = np.asarray(cal.evidence(s), dtype=np.float64)
                    total += np.minimum(ev, cal.max_evidence) if capped else ev
                out.append(total)
            self._cache[capped] = tuple(out)
        return self._cache[capped]


def build_combo(slots: tuple[Slot, ...], scores: dict, cals: dict[str, Calibration],
                chimeric: int, rng: np.random.Generator) -> Combo:
    pools = [(np.sort(scores[s.modality]["genuine"]), np.sort(scores[s.modality]["impostor"]))
             for s in slots]
    c = Combo(slots, [cals[s.modality] for s in slots], pools)
    if not c.single:
        ng = chimeric or max(gen.size for gen, _ in pools)
        ni = chimeric or max(imp.size for _, imp in pools)
        # A mate: best of P genuine comparisons and P·(T-1) against the person's other
        # eyes/fingers; an impostor: best of P·T impostor comparisons.
        c.gen = [np.maximum(best_of(gen, s.probes, ng, rng),
                            best_of(imp, s.comparisons - s.probes, ng, rng))
                 for s, (gen, imp) in zip(slots, pools, strict=True)]
        c.imp = [best_of(imp, s.comparisons, ni, rng)
                 for s, (_, imp) in zip(slots, pools, strict=True)]
    return c


def single_rates(c: Combo, threshold: float, n: int) -> dict:
    """One modality, accepted at best score >= ``threshold``: exact from the pools."""
    (slot,), ((gen, imp),) = c.slots, c.pools
    m = slot.comparisons
    accepted = int(imp.size - np.searchsorted(imp, threshold, side="left"))
    p = accepted / imp.size
    bound = accepted == 0
    fmr = best_of_fmr(3 / imp.size if bound else p, m)
    gsf = float(gen.size - np.searchsorted(gen, threshold, side="left")) / gen.size
    fnir = (1 - gsf) ** slot.probes * (1 - p) ** (m - slot.probes)
    return {"impostor_accepted": accepted, "n_impostor": int(imp.size),
            "n_genuine": int(gen.size), "fmr_emp": fmr, "fpir_emp": fpir_of(fmr, n),
            "fpir_upper_bound": bound, "fnir": float(fnir)}


def fused_rates(gen: np.ndarray, imp: np.ndarray, threshold: float, n: int) -> dict:
    """Chimeric people, accepted at summed evidence >= ``threshold``."""
    accepted = int(np.count_nonzero(imp >= threshold))
    bound = accepted == 0
    fmr = 3 / imp.size if bound else accepted / imp.size
    return {"impostor_accepted": accepted, "n_impostor": int(imp.size),
            "n_genuine": int(gen.size), "fmr_emp": fmr, "fpir_emp": fpir_of(fmr, n),
            "fpir_upper_bound": bound,
            "fnir": float(np.count_nonzero(gen < threshold)) / gen.size}


def evaluate_row(c: Combo, n: int, target: float) -> dict:
    per_person = target / n
    needed = fused_evidence_needed(c.caps, c.mults, per_person)  # the product's rule
    decidable = needed is not None
    plain = math.log10(n) - math.log10(target)  # the old rule: Σ evidence >= log10(N/F)
    plain_ok = plain <= c.reach + EPS
    if c.single:
        cal = c.cals[0]
        shown = math.log10(c.mults[0] / per_person)  # = needed when decidable
        # The product's threshold (round as search_need does); extrapolated when not
        # decidable.
        threshold = round(cal.score_for(shown), 6)
        measured = single_rates(c, threshold, n)
        old = single_rates(c, round(cal.score_for(plain), 6), n) if plain_ok else None
        expected = per_person / c.mults[0] * measured["n_impostor"]  # comparisons
        trials_needed = 3 * c.mults[0] * n / target
    else:
        # Not decidable: the extrapolated calibration (uncapped evidence, the model's caps
        # raised to the curve's own limit).
        shown = needed if decidable else fused_evidence_needed(
            [MAX_EVIDENCE] * len(c.slots), c.mults, per_person)
        threshold = shown
        gen, imp = c.evidence(capped=decidable)
        measured = (fused_rates(gen, imp, shown - EPS, n) if shown is not None else
                    {"impostor_accepted": 0, "n_impostor": int(imp.size),
                     "n_genuine": int(gen.size), "fmr_emp": 0.0, "fpir_emp": 0.0,
                     "fpir_upper_bound": False, "fnir": 1.0})
        old = fused_rates(*c.evidence(capped=True), plain - EPS, n) if plain_ok else None
        expected = per_person * measured["n_impostor"]
        trials_needed = 3 * n / target
    return {
        "combo": c.label,
        "modalities": [{"modality": s.modality, "probes": s.probes, "templates": s.templates,
                        "comparisons": s.comparisons, "max_evidence": cap}
                       for s, cap in zip(c.slots, c.caps, strict=True)],
        "target_fpir": target, "gallery": n, "fmr_per_person": per_person,
        "decidable": decidable,
        "evidence_needed": None if needed is None else round(needed, 3),
        "evidence_shown": None if shown is None else round(shown, 3),
        "reachable": round(c.reach, 3),
        "threshold": None if threshold is None else round(float(threshold), 6),
        "threshold_kind": f"{c.slots[0].modality} score" if c.single else "fused evidence",
        "extrapolated": not decidable, **measured,
        "expected_accepted": expected, "trials_needed": trials_needed,
        "plain_rule": {"evidence": round(plain, 3), "decidable": plain_ok,
                       **(old or {})},
    }


# ------------------------------------------------------------------ words for a ministry


def count(x: float) -> str:
    """3e8 for people: 300000000 -> 3e8."""
    m, e = f"{x:.0e}".split("e")
    return f"{m}e{int(e)}"


def miss_words(fnir: float) -> str:
    if fnir >= 1:
        return "finds nobody (every mate is below the threshold)"
    words = "misses no measured mate" if fnir == 0 else f"misses {pct(fnir)} of mates"
    return words + (" (unusable)" if fnir >= 0.5 else "")


def covers(big: dict, small: dict) -> bool:
    have = {x["modality"]: x["probes"] for x in big["modalities"]}
    return all(have.get(x["modality"], 0) >= x["probes"] for x in small["modalities"])


def takeaway(row: dict, rows: list[dict]) -> str:
    """One sentence for a ministry."""
    n, f = size_label(row["gallery"]), f"{row['target_fpir']:g}"
    who, target = row["combo"], row["target_fpir"]
    if not row["decidable"]:
        better = [r for r in rows if r["decidable"] and r["gallery"] == row["gallery"]
                  and r["target_fpir"] == target and covers(r, row)]
        better.sort(key=lambda r: (len(r["modalities"]),
                                   sum(x["probes"] for x in r["modalities"]), r["fnir"]))
        add = (f"; decidable with {better[0]['combo']}" if better
               else "; nothing measured here is decidable")
        shown = row["evidence_shown"]
        return (f"No: {who} cannot single out one person among {n} at FPIR {f} (needs "
                f"evidence {'?' if shown is None else f'{shown:.1f}'}, calibrated to "
                f"{row['reachable']:g}){add}.")
    misses = miss_words(row["fnir"])
    if row["fpir_upper_bound"]:
        if row["fpir_emp"] <= target:
            return (f"Yes: {who} can search {n} at FPIR {f}, no false match in "
                    f"{row['n_impostor']:,} trials; {misses}.")
        return (f"Rule says yes, unverified: {row['n_impostor']:,} impostor trials cannot show "
                f"FPIR ≤ {f} at {n} (needs ~{count(row['trials_needed'])}); {misses}.")
    if row["fpir_emp"] <= target:
        return f"Yes: {who} can search {n} at FPIR {f} (measured {g(row['fpir_emp'])}); {misses}."
    k = row["impostor_accepted"]
    # More false matches than the rule allows (one-sided Poisson test, 5%)?
    if poisson_sf(k, row["expected_accepted"]) < 0.05:
        cause = "the calibration is optimistic on this data"
    else:
        cause = "within the noise of so few false matches"
    if row["fpir_emp"] > 0.5:
        most = "every search" if row["fpir_emp"] > 0.99 else "most searches"
        head = f"Rule says yes, but {most} would name a stranger"
    else:
        ratio = row["fpir_emp"] / target
        head = (f"Rule says yes, but measured FPIR is {ratio:.{0 if ratio >= 10 else 1}f}× "
                f"the target")
    if k < 20:
        head += f" ({k} false match{'es' if k > 1 else ''})"
    return f"{head}: {cause}; {misses}."


def poisson_sf(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean)."""
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    term = cdf = math.exp(-mean)
    for i in range(1, k):
        term *= mean / i
        cdf += term
    return max(0.0, 1.0 - cdf)


# ------------------------------------------------------------------ output


def evidence_cell(r: dict) -> str:
    """What the row needs: the evidence and, for one modality, the score."""
    shown, mark = r["evidence_shown"], "" if r["decidable"] else "†"
    if shown is None:
        return f"> Σ {r['reachable']:g} max†"
    if len(r["modalities"]) == 1:
        mod = r["modalities"][0]["modality"]
        if r["decidable"]:
            return f"{shown:.2f}: {mod} ≥ {r['threshold']:.3f}"
        return f"{shown:.2f} > {r['reachable']:g} max ({mod} ≥ {r['threshold']:.3f})†"
    if r["decidable"]:
        return f"Σ ≥ {shown:.2f}"
    return f"Σ {shown:.2f} > {r['reachable']:g} max{mark}"


def fpir_cell(r: dict) -> str:
    return (("≤ " if r["fpir_upper_bound"] else "") + g(r["fpir_emp"])
            + ("" if r["decidable"] else "†"))


def fnir_cell(r: dict) -> str:
    return pct(r["fnir"]) + ("" if r["decidable"] else "†")


def plain_cell(r: dict) -> str:
    old = r["plain_rule"]
    if not old["decidable"]:
        return "not decidable"
    return (f"≥ {old['evidence']:.2f}: " + ("≤ " if old["fpir_upper_bound"] else "")
            + f"{g(old['fpir_emp'])} / {pct(old['fnir'])}")


def markdown(rows: list[dict], targets: list[float], scores: dict) -> str:
    show, only = rows, None
    if len(rows) > MARKDOWN_ROWS and len(targets) > 1:
        only = min(targets)
        show = [r for r in rows if r["target_fpir"] == only]
    out = ["| modalities | N | FPIR target | decidable | evidence / threshold | empirical FPIR "
           "| FNIR |", "|---|---:|---:|:---:|---|---:|---:|"]
    last = None
    for r in show:
        first, last = r["combo"] != last, r["combo"]
        out.append(f"| {r['combo'] if first else ''} | {size_label(r['gallery'])} | "
                   f"{r['target_fpir']:g} | {'yes' if r['decidable'] else 'no'} | "
                   f"{evidence_cell(r)} | {fpir_cell(r)} | {fnir_cell(r)} |")
    sets = "; ".join(f"{m}: " + ", ".join(f"{x['set']} ({x['genuine']:,} mate / "
                                          f"{x['impostor']:,} impostor)" for x in s["sources"])
                     for m, s in scores.items())
    caps = ", ".join(f"{x['modality']} {x['max_evidence']:g}"
                     for x in {x["modality"]: x for r in rows for x in r["modalities"]}.values())
    out += [
        "",
        "Evidence = −log10 FMR on each modality's configured calibration, capped at the "
        f"smallest FMR it measured (max: {caps}). The product's rule "
        "(`hawiya/identity/decisions.py`): at most F/N "
        "false-match chance per person; per modality a person's score is the best of m = "
        "probes × templates comparisons (2 irises: 2×2, 10 fingers: 10×10); one modality "
        "decides at evidence log10(m·N/F) (the score shown), several at summed evidence ≥ "
        "`fused_evidence_needed(caps, m, F/N)`.",
        "† not decidable: the product names nobody (FPIR 0, FNIR 100%) and says which "
        "modality to add; the figures are what the extrapolated calibration would give.",
        "≤: no impostor reached the threshold; FPIR from the rule-of-three bound (3 / trials).",
        "Several probes or modalities: people built from independent draws of the pooled "
        f"scores ({sets}); real captures of one person correlate, so those FNIRs are "
        "optimistic.",
    ]
    if only is not None:
        why = " (identify and check-in default)" if only == 1e-3 else ""
        out.append(f"Only FPIR {only:g} rows{why} to keep the table "
                   f"short; `python benchmarks/fpir.py` also prints FPIR "
                   f"{', '.join(f'{t:g}' for t in targets if t != only)}.")
    return "\n".join(out)


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1k,100k,1M,10M", help="gallery sizes, e.g. 1k,1M")
    ap.add_argument("--fpir", default="1e-3,1e-2", help="target FPIRs, comma-separated")
    ap.add_argument("--combos", default=DEFAULT_COMBOS,
                    help="comma-separated; '+' fuses modalities, 'MOD*k' is k probes against "
                         "k templates per person (iris*2: both eyes), 'MOD*PxT' P probes "
                         "against T templates")
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
                    help="chimeric people per fusion (default: the largest pool's size)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", action="store_true",
                    help="print only the main table, as GitHub markdown (for the README)")
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    args = ap.parse_args(argv)

    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    targets = [float(s) for s in args.fpir.split(",") if s.strip()]
    combos = [parse_combo(c) for c in args.combos.split(",") if c.strip()]

    settings = load_settings(args.data_dir)
    mods = sorted({s.modality for c in combos for s in c})
    scores = load_scores(args, set(mods))
    missing = [m for m in mods if m not in scores]
    if missing:
        print(f"no scores for {', '.join(missing)}: dropping the combinations that need them",
              file=sys.stderr)
        combos = [c for c in combos if not {s.modality for s in c} & set(missing)]
    cals = {m: settings.calibration(m) for m in mods if m in scores}

    data_json: dict = {}
    for m, cal in cals.items():
        s = scores[m]
        pools = [*s["sets"], ("pooled", s["genuine"], s["impostor"])]
        data_json[m] = {"sources": s["sources"], "genuine": int(s["genuine"].size),
                        "impostor": int(s["impostor"].size),
                        "calibration": [list(p) for p in cal.points],
                        "max_evidence": cal.max_evidence,
                        "measured_fmr": {name: {f"{f:g}": float(np.mean(imp >= t))
                                                for f, t in cal.points}
                                         for name, _, imp in pools}}

    rows: list[dict] = []
    for slots in combos:
        # One stream per combination: its people do not depend on which others are run.
        rng = np.random.default_rng([args.seed, *combo_label(slots).encode()])
        c = build_combo(slots, scores, cals, args.chimeric, rng)
        for f in targets:
            for n in sizes:
                rows.append(evaluate_row(c, n, f))
    for r in rows:
        r["takeaway"] = takeaway(r, rows)

    if args.markdown:
        print(markdown(rows, targets, scores))
    else:
        print_tables(args, cals, scores, data_json, rows)
    if args.json:
        print(json.dumps({"sizes": sizes, "target_fpir": targets, "data": data_json,
                          "chimeric": args.chimeric or "largest pool", "seed": args.seed,
                          "independence": "modalities, probes and templates independent "
                                          "given the person; chimeric people from the "
                                          "pooled scores",
                          "rows": rows}))
    return 0


def print_tables(args, cals: dict, scores: dict, data_json: dict, rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=260)

    data = Table(title="Scores and the configured calibration (measured FMR at each point)")
    for col in ("modality", "set", "genuine", "impostor", "max evidence",
                "calibration point: configured FMR @ threshold → measured FMR here"):
        data.add_column(col, justify="right" if col in ("genuine", "impostor") else "left")
    for m, cal in cals.items():
        s = scores[m]
        pools = [*s["sets"], ("pooled", s["genuine"], s["impostor"])]
        for i, (name, gen, imp) in enumerate(pools):
            meas = data_json[m]["measured_fmr"][name]
            data.add_row(m if i == 0 else "", name, f"{gen.size:,}", f"{imp.size:,}",
                         f"{cal.max_evidence:g}" if name == "pooled" else "",
                         "  ".join(f"{f:g}@{t:g}→{g(meas[f'{f:g}'])}" for f, t in cal.points))
    console.print(data)

    table = Table(title="1:N at national scale: the product's rule (hawiya.identity.decisions) "
                        "on the configured calibration vs. measured scores")
    for col, just in (("modalities", "left"), ("FPIR", "right"), ("N", "right"),
                      ("comparisons\nper person", "right"), ("decidable", "left"),
                      ("evidence needed / threshold", "right"), ("empirical\nFPIR", "right"),
                      ("FNIR", "right"), ("old plain-sum rule\nΣ ≥ log10(N/F): FPIR / FNIR",
                                          "right")):
        table.add_column(col, justify=just)
    table.add_column("what a ministry should take from it", ratio=1, min_width=60)
    last = None
    for r in rows:
        if last is not None and r["combo"] != last:
            table.add_section()
        first, last = r["combo"] != last, r["combo"]
        table.add_row(r["combo"] if first else "", f"{r['target_fpir']:g}",
                      size_label(r["gallery"]),
                      " + ".join(str(x["comparisons"]) for x in r["modalities"]),
                      "[green]yes[/]" if r["decidable"] else "[red]no[/]",
                      evidence_cell(r), fpir_cell(r), fnir_cell(r), plain_cell(r),
                      r["takeaway"], style=None if r["decidable"] else "dim")
    console.print(table)
    console.print(
        "† not decidable: the product names nobody (FPIR 0, FNIR 100%); the threshold and rates "
        "shown are what the extrapolated calibration would give.\n"
        "≤: no impostor reached the threshold; FPIR from the rule-of-three bound (3 / trials; "
        "one modality: per comparison, then best of m).\n"
        "Comparisons per person m = probes × templates; a person's score per modality is the "
        "best of m. Fusions: chimeric people, every modality's best-of-m drawn independently "
        f"from its pool ({args.chimeric or 'largest-pool'} people, seed {args.seed}); evidence "
        "capped at each calibration's max.\n"
        "Old plain-sum rule: the benchmark's former rule (summed capped evidence ≥ log10(N/F), "
        "one modality at score_for(log10(N/F)), ignoring m); for comparison only, the product "
        "does not use it.")


if __name__ == "__main__":
    sys.exit(main())

"""``hawiya eval``: accuracy evaluation on labelled data (FMR/FNMR/EER/DET; MRZ reading)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from hawiya.cli.common import JsonOut, emit, handles_errors, out, state
from hawiya.errors import InvalidInput

Scores = Annotated[Path | None, typer.Option(
    "--scores", help="Also save the genuine/impostor scores here (.npz: genuine, impostor, "
                     "modality, algorithm)")]

Policy = Annotated[str, typer.Option(
    "--policy", help="Quality policy: probe (every sample is searched against the others; "
                     "default) or enrol (the enrolment gate)")]

app = typer.Typer(help="Accuracy evaluation on labelled data (FMR/FNMR/EER/DET).",
                  no_args_is_help=True)


@app.command("face")
@handles_errors
def eval_face(directory: Annotated[Path | None, typer.Argument(
        help="One sub-folder per identity")] = None,
              manifest: Annotated[Path | None, typer.Option(
                  help="CSV with columns path,label (paths relative to it)")] = None,
              pairs: Annotated[Path | None, typer.Option(
                  help="LFW-style pairs file (with DIR as the image root)")] = None,
              out_dir: Annotated[Path, typer.Option("--out", help="Report folder")] = Path(
                  "reports"),
              detector: Annotated[str | None, typer.Option(
                  help="hog or cnn (default: the configured face engine's)")] = None,
              scores: Scores = None, policy: Policy = "probe", as_json: JsonOut = False
              ) -> None:
    """Face accuracy: genuine/impostor scores, EER, FNMR at FMR, DET plot."""
    overrides = {"params": {"detect": {"detector": detector}}} if detector else {}
    _run_eval(_configured("face", policy, overrides), "face", directory, manifest, pairs,
              out_dir, as_json,
              scores=scores)


@app.command("iris")
@handles_errors
def eval_iris(directory: Annotated[Path | None, typer.Argument(
        help="One sub-folder per eye")] = None,
              manifest: Annotated[Path | None, typer.Option(
                  help="CSV with columns path,label (paths relative to it)")] = None,
              out_dir: Annotated[Path, typer.Option("--out", help="Report folder")] = Path(
                  "reports"),
              scores: Scores = None, policy: Policy = "probe", as_json: JsonOut = False) -> None:
    """Iris accuracy: genuine/impostor scores, EER, FNMR at FMR, DET plot."""
    _run_eval(_configured("iris", policy), "iris", directory, manifest, None, out_dir, as_json,
              scores=scores)


@app.command("finger")
@handles_errors
def eval_finger(directory: Annotated[Path | None, typer.Argument(
        help="One sub-folder per finger, or FVC-named files with --fvc")] = None,
                manifest: Annotated[Path | None, typer.Option(
                    help="CSV with columns path,label (paths relative to it)")] = None,
                fvc: Annotated[bool, typer.Option(
                    "--fvc", help="Labels from FVC names <finger>_<impression>.tif")] = False,
                iso: Annotated[bool, typer.Option(
                    "--iso", help="Match the ISO 19794-2 .iso templates beside the images")
                ] = False,
                out_dir: Annotated[Path, typer.Option("--out", help="Report folder")] = Path(
                    "reports"),
                scores: Scores = None, policy: Policy = "probe", as_json: JsonOut = False) -> None:
    """Fingerprint accuracy: genuine/impostor scores, EER, FNMR at FMR, DET plot."""
    from hawiya.biometrics.finger import IsoRecordEngine
    from hawiya.eval import datasets

    engine = _configured("finger", policy)
    if iso:
        engine = IsoRecordEngine(engine)
    if fvc or iso:
        if directory is None:
            raise InvalidInput("--fvc/--iso need DIR")
        samples = datasets.load_fvc(directory, ".iso" if iso else ".tif")
        _run_eval(engine, "finger-iso" if iso else "finger", None, None, None, out_dir,
                  as_json, samples=samples, source=directory, scores=scores)
    else:
        _run_eval(engine, "finger", directory, manifest, None, out_dir, as_json, scores=scores)


@app.command("mrz")
@handles_errors
def eval_mrz(manifest: Annotated[Path, typer.Option(
        help="CSV with columns path,mrz (paths relative to it; MRZ lines joined by a "
             "literal \\n)")],
             reader: Annotated[str, typer.Option(
                 help="text (the PP-OCR recogniser, default) or template (OCR-B matching)")
             ] = "text",
             as_json: JsonOut = False) -> None:
    """MRZ reading accuracy: exact reads, silent misreads (valid yet wrong), characters."""
    from functools import partial

    from hawiya.cli.common import progress_bar
    from hawiya.credentials.mrz_ocr import read_mrz
    from hawiya.eval.mrz import evaluate, load_mrz_manifest

    if reader not in ("text", "template"):
        raise InvalidInput(f"unknown MRZ reader {reader!r}: use text or template")
    samples = load_mrz_manifest(manifest)
    if reader == "text":            # models load before the clock starts
        from hawiya.ocr import load

        load()
    with progress_bar("reading MRZs", eta=True, disable=as_json and not sys.stderr.isatty()
                      ) as bar:
        task = bar.add_task("mrz", total=len(samples))
        res = evaluate(samples, reader=partial(read_mrz, reader=reader),
                       step=lambda: bar.advance(task))

    def render(r):
        out.print(f"{r['n']} images: {r['exact']} read exactly ({100 * r['exact_rate']:.1f}%), "
                  f"{r['found']} found, {r['valid']} valid, "
                  f"{r['silent_misreads']} valid yet wrong")
        out.print(f"character accuracy {100 * r['character_accuracy']:.2f}%, "
                  f"{r['ms_per_image']:.0f} ms per image")
        for item in r["per_image"]:
            if not item["exact"]:
                out.print(f"  {item['path']}: " + (" | ".join(item["read"]) or "not found"),
                          markup=False)
    emit(res, as_json, render)


def _run_eval(engine, name: str, directory, manifest, pairs, out_dir: Path,
              as_json: bool, samples=None, source: Path | None = None,
              scores: Path | None = None) -> None:
    from hawiya.eval import datasets
    from hawiya.eval.runner import run_eval

    if samples is None and (directory is None) == (manifest is None):
        raise InvalidInput("give exactly one of DIR or --manifest CSV")
    pair_list = None
    if samples is not None:
        pass
    elif pairs is not None:
        if directory is None:
            raise InvalidInput("--pairs needs DIR (the image root)")
        pair_list = datasets.load_pairs(pairs, directory)
    elif manifest is not None:
        samples = datasets.load_manifest(manifest)
    else:
        samples = datasets.load_dir(directory)

    source = Path(source or manifest or directory).resolve()
    name = f"{name}-{re.sub(r'[^A-Za-z0-9._-]+', '_', source.stem or 'data')}"
    res = run_eval(engine, samples=samples, pairs=pair_list, out_dir=out_dir, name=name,
                   progress=not as_json or sys.stderr.isatty(), scores_path=scores)

    def render(r):
        out.print(f"{r['genuine']} genuine / {r['impostor']} impostor pairs, "
                  f"{r['failed_to_enrol']} failed to enrol")
        out.print(f"EER {100 * r['eer']:.2f}%")
        for k, v in r["fnmr_at_fmr"].items():
            out.print(f"FNMR at FMR {k}: {100 * v:.2f}%")
        out.print(f"DET plot: {r['det_plot']}")
        if scores is not None:
            out.print(f"Scores: {scores}")
    emit(res, as_json, render)


def _configured(modality: str, policy: str, overrides: dict | None = None):
    """The engine the deployment's configuration selects (HAWIYA_CONFIG, environment), so
    an evaluation measures exactly what search will use: every sample is a probe of the
    others, so the probe quality policy applies by default (``--policy enrol`` measures the
    enrolment gate instead)."""
    from hawiya.biometrics import modalities
    from hawiya.config import load_settings

    settings = load_settings(state["data_dir"])
    if overrides:
        settings = load_settings(state["data_dir"], modalities={modality: overrides})
    return modalities.engine_for(settings, modality, policy)


@app.command("anpr")
@handles_errors
def eval_anpr(manifest: Annotated[Path, typer.Option(
        help="CSV with columns path,plate and optionally x,y,w,h (the plate's box; paths "
             "relative to it)")],
              country: Annotated[str | None, typer.Option(
                  help="ISO 3166 code whose plate formats apply (default: none, the "
                       "generic rule)")] = None,
              per_image: Annotated[bool, typer.Option(
                  "--per-image", help="Include each image's reading in the JSON")] = False,
              as_json: JsonOut = False) -> None:
    """Plate recognition accuracy: exact reads, truth in the top 5, plates found, ms/image."""
    from hawiya.cli.common import progress_bar
    from hawiya.eval.anpr import evaluate, load_plate_manifest

    samples = load_plate_manifest(manifest)
    with progress_bar("Reading plates", eta=True,
                      disable=as_json and not sys.stderr.isatty()) as bar:
        task = bar.add_task("anpr", total=len(samples))
        res = evaluate(samples, country=country.upper() if country else None,
                       step=lambda: bar.advance(task))
    if not per_image:
        res["misread"] = [{k: r[k] for k in ("path", "truth", "read")}
                          for r in res.pop("per_image") if not r["exact"]]

    def render(r):
        n = r["n"] or 1
        out.print(f"{r['n']} images: exact {r['exact']} ({100 * r['exact'] / n:.1f}%), "
                  f"top-5 {r['top5']} ({100 * r['top5'] / n:.1f}%), found {r['found']} "
                  f"({100 * r['found'] / n:.1f}%), {r['ms_per_image']:.0f} ms per image")
        for m in r.get("misread", []):
            out.print(f"  {Path(m['path']).name}: {m['truth']} read {m['read'] or '-'}",
                      highlight=False)
    emit(res, as_json, render)

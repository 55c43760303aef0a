"""Identity operations: ``hawiya enroll``, ``enroll-batch``, ``verify``, ``identify``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hawiya.cli.common import (
    Captures,
    DataDir,
    Fingers,
    IrisLeft,
    IrisRight,
    JsonOut,
    Operator,
    act_as,
    candidates_table,
    capture_options,
    emit,
    handles_errors,
    open_platform,
    out,
    progress_bar,
)
from hawiya.roles import ENROLLERS, VERIFIERS

app = typer.Typer()

# Roles that may use each command once logged in, as the API's routes (admin always may).


@app.command()
@handles_errors
def enroll(name: Annotated[str | None, typer.Option(
               help="Full name in one field (kept whole), or give its parts")] = None,
           given_name: Annotated[str | None, typer.Option(help="Given name")] = None,
           father_name: Annotated[str | None, typer.Option(help="Father's name")] = None,
           grandfather_name: Annotated[str | None, typer.Option(
               help="Grandfather's name")] = None,
           family_name: Annotated[str | None, typer.Option(help="Family name")] = None,
           face: Annotated[list[Path] | None, typer.Option(
               help="Face image (repeat for several)")] = None,
           iris_left: IrisLeft = None, iris_right: IrisRight = None, finger: Fingers = None,
           capture: Captures = None,
           reference_id: Annotated[str | None, typer.Option(help="Integrator's id")] = None,
           date_of_birth: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
           sex: str | None = None, district: str | None = None,
           request_id: Annotated[str | None, typer.Option(
               help="Idempotency key: the same id returns the first result")] = None,
           operator: Operator = None, data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Enroll a person (face and/or iris): quality gate, extraction, 1:N de-duplication."""
    from hawiya.identity import service
    from hawiya.identity.persons import Demographics

    platform = open_platform(data_dir)
    demo = Demographics.parse(name, reference_id, date_of_birth, sex, district,
                              given_name=given_name, father_name=father_name,
                              grandfather_name=grandfather_name, family_name=family_name)
    actor = act_as(platform, operator, *ENROLLERS)
    res = service.enroll_safely(platform, demographics=demo, actor=actor,
                                request_id=request_id,
                                captures=capture_options(list(face or []), iris_left,
                                                         iris_right, finger, capture))
    platform.close()

    def render(r):
        out.print(f"{r['person_id']}: [bold]{r['status']}[/bold]"
                  + (" (replayed)" if r.get("replayed") else ""))
        if r["candidates"]:
            candidates_table(r["candidates"], f"Possible duplicates (case {r['case_id']})")
    emit(res, as_json, render)


@app.command("enroll-batch")
@handles_errors
def enroll_batch(folder: Path, manifest: Annotated[Path | None, typer.Option(
        help="CSV with columns name,face[,reference_id,date_of_birth,sex,district,request_id]"
             " (default FOLDER/manifest.csv)")] = None,
                 operator: Operator = None, data_dir: DataDir = None,
                 as_json: JsonOut = False) -> None:
    """Enroll many people from a folder of images and a CSV manifest."""
    from hawiya.identity.batch import enroll_batch as run

    platform = open_platform(data_dir)
    actor = act_as(platform, operator, *ENROLLERS)
    with progress_bar("enrolling", eta=True) as progress:
        task = progress.add_task("enroll", total=None)
        res = run(platform, folder, manifest, actor=actor,
                  on_progress=lambda done, total: progress.update(task, completed=done,
                                                                   total=total))
    platform.close()

    def render(r):
        out.print(f"job {r['job_id']}: {r['total']} rows, {r['enrolled']} enrolled, "
                  f"{r['potential_duplicate']} held as potential duplicates, "
                  f"{r['replayed']} already done, {r['failed']} failed")
        for e in r["results"]:
            if e["status"] == "failed":
                out.print(f"  line {e['line']} ({e['name']}): {e['error']}")
    emit(res, as_json, render)
    if res["failed"]:
        raise typer.Exit(1)  # the batch ran; some rows need attention


@app.command()
@handles_errors
def verify(person_id: str, face: Annotated[Path | None, typer.Option(help="Face image")] = None,
           iris_left: IrisLeft = None, iris_right: IrisRight = None, finger: Fingers = None,
           capture: Captures = None,
           operator: Operator = None, data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """1:1: is this the enrolled person? (our id or reference id; face and/or iris)"""
    from hawiya.identity import service

    platform = open_platform(data_dir)
    actor = act_as(platform, operator, *VERIFIERS)
    res = service.verify(platform, person_id,
                         capture_options(face, iris_left, iris_right, finger, capture),
                         actor=actor)
    emit(res, as_json, lambda r: out.print(
        f"{'[green]MATCH[/green]' if r['match'] else '[red]NO MATCH[/red]'}  {r['reason']}"))


@app.command()
@handles_errors
def identify(face: Annotated[Path | None, typer.Option(help="Face image")] = None,
             iris_left: IrisLeft = None, iris_right: IrisRight = None, finger: Fingers = None,
             capture: Captures = None,
             top: Annotated[int, typer.Option(help="Number of candidates")] = 10,
             among: Annotated[str | None, typer.Option(
                 help="Search only these people (comma-separated ids)")] = None,
             scope: Annotated[str | None, typer.Option(
                 help="Search only a named scope, e.g. election:GE26 or station:GE26/S3")
             ] = None,
             operator: Operator = None, data_dir: DataDir = None,
             as_json: JsonOut = False) -> None:
    """1:N: who is this? Top-K candidates with scores (face and/or iris)."""
    from hawiya.identity import service

    platform = open_platform(data_dir)
    actor = act_as(platform, operator, *VERIFIERS, "adjudicator")
    keys = [k.strip() for k in among.split(",") if k.strip()] if among is not None else None
    res = service.identify(platform,
                           capture_options(face, iris_left, iris_right, finger, capture),
                           actor=actor, top=top, restrict_to=keys, scope=scope)
    platform.close()

    def render(r):
        if not r["decidable"]:
            out.print(f"[yellow]not decidable[/yellow]: {r['reason']}")
            return
        candidates_table(r["candidates"], f"Candidates among {r['gallery_size']:,} people "
                                          f"(match threshold {r['threshold']:.4f})")
        out.print(r["reason"])
    emit(res, as_json, render)

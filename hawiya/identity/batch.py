"""Batch enrollment from a folder of images and a CSV manifest, run as a followable job.

Manifest columns: ``name`` (or its parts ``given_name``, ``father_name``, ``grandfather_name``,
``family_name``) and ``face`` (image path relative to the folder; several images of
one person separated by ``;``), optionally ``iris_left``, ``iris_right``, ``reference_id``,
``date_of_birth``, ``sex``, ``district``, ``request_id``. Faces are extracted in batches
across all cores. Rows without a request id get one derived from their content,
so re-running the same batch enrolls nobody twice. A bad row is reported and skipped; it
never stops the batch.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hawiya.biometrics.capture import Capture
from hawiya.errors import HawiyaError, InvalidInput
from hawiya.identity import matching
from hawiya.identity.names import PARTS
from hawiya.identity.persons import Demographics
from hawiya.identity.service import enroll_safely, submission_id
from hawiya.imaging import load_image
from hawiya.registry.models import Job

if TYPE_CHECKING:
    from hawiya.platform import Platform

REQUIRED = ("face",)  # and a name: ``name`` or its parts (names.PARTS)
IRIS_COLUMNS = (("iris_left", "left-iris"), ("iris_right", "right-iris"))
CHUNK = 16


def read_manifest(folder: Path, manifest: Path) -> list[dict]:
    if not folder.is_dir():
        raise InvalidInput(f"no such folder: {folder}")
    if not manifest.is_file():
        raise InvalidInput(f"no manifest at {manifest} (CSV with columns name,face)")
    with manifest.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if not {"name", "given_name", "family_name"} & set(reader.fieldnames or []):
            missing.insert(0, "name (or given_name/family_name)")
        if missing:
            raise InvalidInput(f"manifest lacks column(s): {', '.join(missing)}")
        rows = [dict(r, _line=i + 2) for i, r in enumerate(reader)]
    if not rows:
        raise InvalidInput("manifest has no rows")
    return rows


def enroll_batch(platform: Platform, folder: str | Path, manifest: str | Path | None = None,
                 *, actor: str, station: str | None = None,
                 on_progress: Callable[[int, int], None] | None = None) -> dict:
    folder = Path(folder)
    manifest = Path(manifest) if manifest else folder / "manifest.csv"
    rows = read_manifest(folder, manifest)
    with platform.transaction() as session:
        job = Job(kind="enroll-batch", total=len(rows), created_by=actor,
                  summary={"folder": str(folder), "manifest": str(manifest)})
        session.add(job)
        session.flush()
        job_id = job.id
    counts = {"enrolled": 0, "potential_duplicate": 0, "replayed": 0, "failed": 0}
    results: list[dict] = []
    engine = platform.biometric_engine("face")
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        prepared = []  # (row, paths, images or error)
        flat_images, owners = [], []
        for r in chunk:
            paths = [folder / p.strip() for p in (r.get("face") or "").split(";") if p.strip()]
            try:
                if not paths:
                    raise InvalidInput("no face image named")
                images = [load_image(p) for p in paths]
                prepared.append((r, paths, None))
                for img in images:
                    flat_images.append(img)
                    owners.append(len(prepared) - 1)
            except HawiyaError as exc:
                prepared.append((r, paths, exc))
        extracted = engine.extract_batch(flat_images) if flat_images else []
        per_row: dict[int, list] = {}
        for owner, item in zip(owners, extracted, strict=False):
            per_row.setdefault(owner, []).append(item)
        for i, (r, paths, err) in enumerate(prepared):
            entry = {"line": r["_line"], "name": r.get("name") or " ".join(
                r.get(k) or "" for k in PARTS).strip()}
            try:
                if err:
                    raise err
                items = per_row.get(i, [])
                bad = next((x for x in items if isinstance(x, Exception)), None)
                if bad is not None:
                    raise bad
                irises = [(pos, folder / r[col].strip()) for col, pos in IRIS_COLUMNS
                          if (r.get(col) or "").strip()]
                iris_captures = [Capture("iris", img, pos) for pos, img in irises]
                if iris_captures:
                    items = items + matching.extract(platform, iris_captures)
                demo = Demographics.parse(r.get("name", ""), r.get("reference_id") or None,
                                          r.get("date_of_birth") or None, r.get("sex") or None,
                                          r.get("district") or None,
                                          **{k: r.get(k) or None for k in PARTS})
                captures = [Capture("face", p, "frontal") for p in paths] + iris_captures
                request_id = (r.get("request_id") or "").strip() or "batch:" + submission_id(
                    demo, captures)
                res = enroll_safely(platform, captures=captures, demographics=demo,
                                    actor=actor, request_id=request_id, station=station,
                                    templates=items)
                counts["replayed" if res.replayed else res.status] += 1
                entry.update(person_id=res.person_id, status=res.status,
                             candidates=[c.to_json() for c in res.candidates],
                             replayed=res.replayed)
            except HawiyaError as exc:
                counts["failed"] += 1
                entry.update(status="failed", error=exc.message, reasons=exc.reasons)
            results.append(entry)
        with platform.transaction() as session:
            job = session.get(Job, job_id)
            job.done = len(results)
            job.summary = dict(job.summary, **counts)
        if on_progress:
            on_progress(len(results), len(rows))
    with platform.transaction() as session:
        job = session.get(Job, job_id)
        job.status = "finished"
        job.summary = dict(job.summary, **counts)
    return {"job_id": job_id, "total": len(rows), **counts, "results": results}


def job_status(platform: Platform, job_id: int) -> dict:
    with platform.transaction() as session:
        job = session.get(Job, int(job_id))
        if job is None:
            from hawiya.errors import NotFound

            raise NotFound(f"no job {job_id}")
        return {"job_id": job.id, "kind": job.kind, "status": job.status, "total": job.total,
                "done": job.done, "summary": job.summary}

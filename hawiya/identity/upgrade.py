"""Model upgrades as a supported, audited operation: count templates per algorithm, and
re-extract templates of an old algorithm from their kept raw captures with the engine
configured now. People whose captures were not kept (or no longer pass) are listed for
re-capture; their old templates stay, never compared with new ones, until then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from hawiya import audit
from hawiya.biometrics import modalities
from hawiya.errors import HawiyaError, InvalidInput, NotFound
from hawiya.identity import templates as store
from hawiya.identity.results import AlgorithmCount, ReextractResult, TemplatesStatus
from hawiya.imaging import load_image
from hawiya.registry.models import BiometricTemplate, Person

if TYPE_CHECKING:
    from hawiya.platform import Platform

BATCH = 200


def configured_algorithms(platform: Platform) -> dict[str, str]:
    return {m: modalities.algorithm_id(platform.settings, m)
            for m in modalities.enabled(platform.settings)}


def status(platform: Platform) -> TemplatesStatus:
    configured = configured_algorithms(platform)
    with platform.transaction() as session:
        rows = session.execute(
            select(BiometricTemplate.modality, BiometricTemplate.algorithm,
                   func.count(BiometricTemplate.id),
                   func.count(func.distinct(BiometricTemplate.person_db_id)),
                   func.count(BiometricTemplate.raw_image))
            .group_by(BiometricTemplate.modality, BiometricTemplate.algorithm)
            .order_by(BiometricTemplate.modality, BiometricTemplate.algorithm)).all()
    counts = [AlgorithmCount(modality=m, algorithm=a, current=configured.get(m) == a,
                             templates=n, people=p, with_raw_capture=r)
              for m, a, n, p, r in rows]
    return TemplatesStatus(algorithms=counts, configured=configured,
                           stale=sum(c.templates for c in counts if not c.current))


def reextract(platform: Platform, algorithm: str, *, actor: str,
              on_progress: Callable[[int, int], None] | None = None) -> ReextractResult:
    """Re-extract every template of ``algorithm`` (an id such as ``dlib-resnet/1``) with
    its modality's configured engine, from the kept raw capture."""
    with platform.transaction() as session:
        found = session.execute(select(BiometricTemplate.modality, func.count()).where(
            BiometricTemplate.algorithm == algorithm)
            .group_by(BiometricTemplate.modality)).all()
    if not found:
        raise NotFound(f"no templates of algorithm {algorithm!r} (see `hawiya templates "
                       "status`)")
    if len(found) > 1:
        raise InvalidInput(f"algorithm {algorithm!r} is used by several modalities")
    modality, total = found[0]
    target = configured_algorithms(platform).get(modality)
    if target is None:
        raise InvalidInput(f"modality {modality!r} has no configured engine here")
    if target == algorithm:
        raise InvalidInput(f"{algorithm} is the configured {modality} algorithm already")
    engine = platform.biometric_engine(modality)
    done = failed = 0
    recapture: list[dict] = []
    last_id = 0
    while True:
        with platform.transaction() as session:
            batch = session.execute(
                select(BiometricTemplate, Person.person_id)
                .join(Person, Person.id == BiometricTemplate.person_db_id)
                .where(BiometricTemplate.algorithm == algorithm,
                       BiometricTemplate.id > last_id)
                .order_by(BiometricTemplate.id).limit(BATCH)).all()
            if not batch:
                break
            for row, person_id in batch:
                last_id = row.id
                reason = _reextract_row(platform, engine, row, person_id)
                if reason is None:
                    done += 1
                else:
                    failed += 1
                    recapture.append({"person_id": person_id, "position": row.position,
                                      "reason": reason})
        if on_progress:
            on_progress(done + failed, total)
    with platform.transaction() as session:
        audit.append(session, actor, "templates.reextract", None,
                     {"modality": modality, "from": algorithm, "to": target,
                      "reextracted": done, "failed": failed,
                      "recapture": sorted({r["person_id"] for r in recapture})})
    return ReextractResult(algorithm=algorithm, to_algorithm=target, reextracted=done,
                           failed=failed, recapture=recapture)


def _reextract_row(platform: Platform, engine, row: BiometricTemplate, person_id: str
                   ) -> str | None:
    """Replace one row's template; the reason it could not be, or None."""
    raw = store.decrypt_capture(platform, row, person_id)
    if raw is None:
        return "raw capture not kept"
    try:
        template = engine.extract(load_image(raw), position=row.position)
    except HawiyaError as exc:
        return exc.message
    store.replace_template(platform, row, person_id, template)
    return None

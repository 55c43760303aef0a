"""Identity owns biometric templates and captures: how they are encrypted at rest, stored,
loaded and decrypted. The one place that knows the encryption contexts; other services
(credentials, elections) ask here instead of reading template rows themselves.

Each ciphertext's associated data binds it to its owner (and a template to its modality),
so a row copied onto another person does not decrypt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from hawiya.biometrics import modalities
from hawiya.biometrics.template import Template
from hawiya.registry.models import BiometricTemplate, Person

if TYPE_CHECKING:
    from hawiya.platform import Platform

# Documents bind to and print a face: the modality of a person's portrait.
PORTRAIT_MODALITY = "face"
PORTRAIT_HEIGHT = 160  # px: enough to recognise a face on a clerk's screen


def template_context(person_id: str, modality: str) -> str:
    """Associated data binding an encrypted template to its owner."""
    return f"template:{person_id}:{modality}"


def capture_context(person_id: str) -> str:
    """Associated data binding a kept raw capture to its owner."""
    return f"image:{person_id}"


def decrypt_template(platform: Platform, row: BiometricTemplate, person_id: str) -> Template:
    return Template.from_bytes(platform.cipher.decrypt(
        row.encrypted, template_context(person_id, row.modality)))


def decrypt_capture(platform: Platform, row: BiometricTemplate, person_id: str
                    ) -> bytes | None:
    if row.raw_image is None:
        return None
    return platform.cipher.decrypt(row.raw_image, capture_context(person_id))


def new_row(platform: Platform, person: Person, capture_session_id: int | None,
            template: Template, raw: bytes | None) -> BiometricTemplate:
    """An encrypted template row (and its raw capture, when kept) for ``person``."""
    return BiometricTemplate(
        person_db_id=person.id, capture_session_id=capture_session_id,
        modality=template.modality, position=template.position,
        algorithm=template.algorithm_id, quality=template.quality,
        raw_image=(platform.cipher.encrypt(raw, capture_context(person.person_id))
                   if raw is not None else None),
        encrypted=platform.cipher.encrypt(template.to_bytes(),
                                          template_context(person.person_id,
                                                           template.modality)))


def replace_template(platform: Platform, row: BiometricTemplate, person_id: str,
                     template: Template) -> None:
    """Overwrite a row's template (re-extraction under a new algorithm)."""
    row.encrypted = platform.cipher.encrypt(template.to_bytes(),
                                            template_context(person_id, row.modality))
    row.algorithm, row.quality = template.algorithm_id, template.quality


def current_rows(platform: Platform, session: Session, person: Person,
                 modality: str | None = None) -> list[BiometricTemplate]:
    """A person's template rows made by the configured engines (other algorithms' rows are
    kept for re-extraction but never compared)."""
    q = select(BiometricTemplate).where(BiometricTemplate.person_db_id == person.id)
    if modality is not None:
        q = q.where(BiometricTemplate.modality == modality)
    rows = session.scalars(q.order_by(BiometricTemplate.id)).all()
    wanted: dict[str, str] = {}
    out = []
    for row in rows:
        if row.modality not in wanted:
            wanted[row.modality] = _current_algorithm(platform, row.modality)
        if row.algorithm == wanted[row.modality]:
            out.append(row)
    return out


def _current_algorithm(platform: Platform, modality: str) -> str | None:
    if modality not in platform.settings.modalities or modality not in modalities.names():
        return None
    return modalities.algorithm_id(platform.settings, modality)


def person_templates(platform: Platform, session: Session, person: Person,
                     modality: str | None = None) -> list[Template]:
    return [decrypt_template(platform, r, person.person_id)
            for r in current_rows(platform, session, person, modality)]


def stale_modalities(platform: Platform, session: Session, person: Person) -> list[str]:
    """Modalities this person has templates of only under an algorithm no longer in use
    (they must be re-extracted or re-captured before they can be compared)."""
    have = {r.modality for r in session.scalars(select(BiometricTemplate).where(
        BiometricTemplate.person_db_id == person.id))}
    current = {r.modality for r in current_rows(platform, session, person)}
    return sorted(have - current)


def face_template(platform: Platform, session: Session, person: Person) -> Template | None:
    """The person's first enrolled face template (the one a card is bound to)."""
    rows = current_rows(platform, session, person, PORTRAIT_MODALITY)
    return decrypt_template(platform, rows[0], person.person_id) if rows else None


def portrait(platform: Platform, session: Session, person: Person) -> bytes | None:
    """The person's kept face capture (only when raw captures are kept)."""
    for row in session.scalars(select(BiometricTemplate).where(
            BiometricTemplate.person_db_id == person.id,
            BiometricTemplate.modality == PORTRAIT_MODALITY,
            BiometricTemplate.raw_image.is_not(None)).order_by(BiometricTemplate.id)):
        return decrypt_capture(platform, row, person.person_id)
    return None


def portrait_context(person_id: str) -> str:
    return f"portrait:{person_id}"


def make_portrait(image: bytes, template: Template, height: int = PORTRAIT_HEIGHT) -> bytes:
    """A small JPEG of the face a template was made from (its detected box with a margin),
    so a clerk or adjudicator confirms a person by eye without raw captures being kept."""
    import io

    from PIL import Image

    from hawiya.imaging import load_image

    pixels = load_image(image)
    h, w = pixels.shape[:2]
    box = template.meta.get("box")
    if box and len(box) == 4:
        x0, y0, x1, y1 = (int(v) for v in box)  # the detector's (left, top, right, bottom)
        mx, my = int((x1 - x0) * 0.4), int((y1 - y0) * 0.5)
        pixels = pixels[max(0, y0 - my):min(h, y1 + my), max(0, x0 - mx):min(w, x1 + mx)]
    picture = Image.fromarray(pixels)
    scale = height / max(1, picture.height)
    picture = picture.resize((max(1, round(picture.width * scale)), height), Image.LANCZOS)
    buf = io.BytesIO()
    picture.convert("RGB").save(buf, "JPEG", quality=80)
    return buf.getvalue()


def set_portrait(platform: Platform, person: Person, image: bytes, template: Template) -> None:
    person.portrait = platform.cipher.encrypt(make_portrait(image, template),
                                              portrait_context(person.person_id))


def portrait_jpeg(platform: Platform, person: Person) -> bytes | None:
    """The person's enrolment portrait (JPEG bytes), or None."""
    if person.portrait is None:
        return None
    return platform.cipher.decrypt(person.portrait, portrait_context(person.person_id))


def portrait_thumbnail(platform: Platform, person: Person) -> str | None:
    """The person's enrolment portrait as a data URL, or None."""
    import base64

    jpeg = portrait_jpeg(platform, person)
    return None if jpeg is None else "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()


def quality_summary(templates: Sequence[Template]) -> dict[str, int]:
    return {f"{t.modality}:{t.position}": t.quality for t in templates}

"""Biometric uploads: the one place that declares and reads the multipart fields ``face``,
``iris_left``, ``iris_right``, ``finger`` and ``finger_position``, and the generic
``capture`` + ``capture_label`` (``MODALITY[:POSITION]``) pair that carries any registered
modality. Everything becomes a list of :class:`Capture` for the services.

A route takes :class:`EnrollUploads` (several face images) or :class:`ProbeUploads` (one)
as a dependency and calls ``.read()`` once its own checks have passed; reading is bounded
(:func:`hawiya.api.deps.read_upload`) and keeps the order faces, irises, fingers.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import File, Form, UploadFile

from hawiya.api.deps import read_upload
from hawiya.biometrics.capture import Capture, classic_captures, parse_capture_spec
from hawiya.biometrics.modalities import check_labels
from hawiya.errors import InvalidInput

_IRIS_LEFT = "left iris image"
_IRIS_RIGHT = "right iris image"
_FINGER = "fingerprint images (repeat the field, up to ten)"
_CAPTURE = "an image of any registered modality (repeat; label each with capture_label)"
_CAPTURE_LABEL = "MODALITY[:POSITION] of each capture image, in the same order"
_FINGER_POSITION = ("one position per finger image, in the same order (e.g. right-index), "
                    "or none for 'unknown'")


def read_face(upload: UploadFile | None) -> bytes | None:
    return read_upload(upload, "face image") if upload is not None else None


def read_captures(faces: Sequence[UploadFile], iris_left: UploadFile | None,
                  iris_right: UploadFile | None, fingers: Sequence[UploadFile],
                  finger_positions: Sequence[str], generic: Sequence[UploadFile] = (),
                  labels: Sequence[str] = ()) -> list[Capture]:
    if finger_positions and len(finger_positions) != len(fingers):
        raise InvalidInput("give one finger_position per finger image (or none)")
    if len(labels) != len(generic):
        raise InvalidInput("give one capture_label (MODALITY[:POSITION]) per capture image")
    labelled = [parse_capture_spec(label) for label in labels]
    check_labels([Capture(m, b"", pos) for m, pos in labelled])  # before reading any file
    caps = classic_captures(
        [read_upload(f, "face image") for f in faces],
        [(pos, read_upload(f, f"{pos} image"))
         for pos, f in (("left-iris", iris_left), ("right-iris", iris_right)) if f is not None],
        [(finger_positions[i] if finger_positions else "unknown",
          read_upload(f, "finger image")) for i, f in enumerate(fingers)])
    for (modality, position), label, upload in zip(labelled, labels, generic, strict=True):
        caps.append(Capture(modality, read_upload(upload, f"{label} image"), position))
    return caps


class ProbeUploads:
    """Form fields of a probe (verify, identify, check-in): at most one face image."""

    def __init__(self, face: UploadFile | None = File(None, description="face image"),
                 iris_left: UploadFile | None = File(None, description=_IRIS_LEFT),
                 iris_right: UploadFile | None = File(None, description=_IRIS_RIGHT),
                 finger: list[UploadFile] | None = File(None, description=_FINGER),
                 finger_position: list[str] | None = Form(None, description=_FINGER_POSITION),
                 capture: list[UploadFile] | None = File(None, description=_CAPTURE),
                 capture_label: list[str] | None = Form(None, description=_CAPTURE_LABEL)):
        self.faces = [face] if face else []
        self.iris_left, self.iris_right = iris_left, iris_right
        self.fingers, self.finger_positions = finger or [], finger_position or []
        self.generic, self.labels = capture or [], capture_label or []

    def read(self) -> list[Capture]:
        return read_captures(self.faces, self.iris_left, self.iris_right, self.fingers,
                             self.finger_positions, self.generic, self.labels)


class EnrollUploads(ProbeUploads):
    """Form fields of an enrolment: several face images of the one person allowed."""

    def __init__(self, face: list[UploadFile] | None = File(
                     None, description="face images of this person (repeat the field)"),
                 iris_left: UploadFile | None = File(None, description=_IRIS_LEFT),
                 iris_right: UploadFile | None = File(None, description=_IRIS_RIGHT),
                 finger: list[UploadFile] | None = File(None, description=_FINGER),
                 finger_position: list[str] | None = Form(None, description=_FINGER_POSITION),
                 capture: list[UploadFile] | None = File(None, description=_CAPTURE),
                 capture_label: list[str] | None = Form(None, description=_CAPTURE_LABEL)):
        super().__init__(None, iris_left, iris_right, finger, finger_position, capture,
                         capture_label)
        self.faces = list(face or [])

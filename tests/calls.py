"""The identity and check-in services called the way the interfaces call them: classic
face/iris/finger arguments become Captures, and typed results become their JSON form
(what the API and ``--json`` print), so tests pin the public contract."""

from __future__ import annotations

from hawiya.biometrics.capture import classic_captures
from hawiya.elections import checkin as _checkin
from hawiya.identity import adjudication, persons
from hawiya.identity import service as _service


def _caps(face=None, faces=(), irises=(), fingers=()):
    return classic_captures(list(faces) + ([face] if face is not None else []), irises,
                            fingers)


def enroll(platform, *, faces=(), irises=(), fingers=(), **kw) -> dict:
    return _service.enroll(platform, captures=_caps(faces=faces, irises=irises,
                                                    fingers=fingers), **kw).to_json()


def enroll_safely(platform, *, faces=(), irises=(), fingers=(), **kw) -> dict:
    return _service.enroll_safely(platform, captures=_caps(faces=faces, irises=irises,
                                                           fingers=fingers), **kw).to_json()


def verify(platform, person_key, face=None, *, actor, irises=(), fingers=()) -> dict:
    return _service.verify(platform, person_key, _caps(face, (), irises, fingers),
                           actor=actor).to_json()


def identify(platform, face=None, *, actor, irises=(), fingers=(), **kw) -> dict:
    return _service.identify(platform, _caps(face, (), irises, fingers), actor=actor,
                             **kw).to_json()


def check_in(platform, election, station, *, clerk, face=None, irises=(), fingers=(),
             **kw) -> dict:
    return _checkin.check_in(platform, election, station, clerk=clerk,
                             captures=_caps(face, (), irises, fingers), **kw).to_json()


def list_cases(platform, *a, **kw) -> list[dict]:
    return [c.to_json() for c in adjudication.list_cases(platform, *a, **kw)]


def decide_case(platform, *a, **kw) -> dict:
    return adjudication.decide_case(platform, *a, **kw).to_json()


def list_persons(platform, *a, **kw) -> list[dict]:
    return [p.to_json() for p in persons.list_persons(platform, *a, **kw)]


def get_person(platform, key) -> dict:
    return persons.get_person(platform, key).to_json()

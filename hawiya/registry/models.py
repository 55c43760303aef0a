"""SQLAlchemy 2 models: people, capture sessions, templates, adjudication, users, audit.

One model serves SQLite (embedded default) and PostgreSQL (production); schema changes go
through Alembic migrations in ``registry/migrations``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Person status values (a small closed set, checked by the service layer).
ACTIVE = "active"
POTENTIAL_DUPLICATE = "potential_duplicate"
MERGED = "merged"
INACTIVE = "inactive"
PERSON_STATUSES = (ACTIVE, POTENTIAL_DUPLICATE, MERGED, INACTIVE)

ROLES = ("admin", "enrollment_officer", "verifier", "adjudicator", "auditor",
         "election_admin", "polling_clerk", "observer", "vehicle_registrar",
         "traffic_officer")

BigId = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_person_id() -> str:
    return "P" + uuid.uuid4().hex[:15].upper()


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(32), unique=True, index=True,
                                           default=new_person_id)
    reference_id: Mapped[str | None] = mapped_column(String(128), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    # The name as its parts (ICAO 9303 builds the MRZ from them); a name entered as one
    # field is kept whole in given_name, never split by guesswork.
    given_name: Mapped[str | None] = mapped_column(String(200))
    father_name: Mapped[str | None] = mapped_column(String(100))
    grandfather_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(1))
    district: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True, default=ACTIVE)
    merged_into: Mapped[str | None] = mapped_column(String(32))
    # Encrypted enrolment portrait thumbnail (JPEG), shown to clerks and adjudicators.
    portrait: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                    onupdate=utcnow)

    templates: Mapped[list[BiometricTemplate]] = relationship(back_populates="person")


class CaptureSession(Base):
    """One enrollment submission; its request_id makes re-submission idempotent."""

    __tablename__ = "capture_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    person_db_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), default="enroll")
    operator: Mapped[str] = mapped_column(String(100))
    station: Mapped[str | None] = mapped_column(String(100))
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BiometricTemplate(Base):
    """Encrypted template bytes; the primary key is the id used in gallery indexes."""

    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_db_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    capture_session_id: Mapped[int | None] = mapped_column(ForeignKey("capture_sessions.id"))
    modality: Mapped[str] = mapped_column(String(16), index=True)
    position: Mapped[str] = mapped_column(String(32))
    algorithm: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int] = mapped_column(Integer)
    encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    raw_image: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    person: Mapped[Person] = relationship(back_populates="templates")


class DuplicateCase(Base):
    """An enrollment held for a human adjudicator because it matched existing people."""

    __tablename__ = "duplicate_cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_db_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    candidates: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), index=True, default="open")
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    # Four eyes: a "distinct" decision against strong evidence is proposed by one
    # adjudicator and takes effect when a second one confirms it.
    proposed_decision: Mapped[str | None] = mapped_column(String(16))
    proposed_by: Mapped[str | None] = mapped_column(String(100))
    proposed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    proposed_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    person: Mapped[Person] = relationship()


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    # A polling clerk's account may be bound to one station: it can check in only there.
    station_code: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    """Bearer tokens, stored only as a SHA-256 digest."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """One log-in try (``success`` / ``failure``) or a lock (``lock_account`` /
    ``lock_address`` with ``locked_until``), shared by every server worker for throttling.
    Rows older than the failure window and any lock are pruned."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    client_address: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                    index=True)


class Job(Base):
    """A long operation (batch enrollment) whose progress a client can follow."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                    onupdate=utcnow)


class AuditRecord(Base):
    """Append-only, hash-chained log: each record's hash covers the previous hash."""

    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("prev_hash", name="uq_audit_prev_hash"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(128), index=True)
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Document(Base):
    """An identity document we issued: its signed credential and its current status."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_number: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    person_db_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    document_type: Mapped[str] = mapped_column(String(8))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date] = mapped_column(Date)
    key_id: Mapped[str] = mapped_column(String(64))
    face_digest: Mapped[str | None] = mapped_column(String(64))
    credential: Mapped[bytes] = mapped_column(LargeBinary)
    mrz: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), index=True, default="valid")
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True),
                                                           default=utcnow)

    person: Mapped[Person] = relationship()


class BorderCrossing(Base):
    """One document check at a desk or border post: who, where, when, verdict."""

    __tablename__ = "border_crossings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_number: Mapped[str | None] = mapped_column(String(32), index=True)
    person_id: Mapped[str | None] = mapped_column(String(32), index=True)
    location: Mapped[str] = mapped_column(String(100))
    direction: Mapped[str | None] = mapped_column(String(8))
    officer: Mapped[str] = mapped_column(String(100))
    verdict: Mapped[str] = mapped_column(String(16))
    # What the valid verdict rests on (hawiya.credentials.documents.ASSURANCES).
    assurance: Mapped[str | None] = mapped_column(String(48))
    issuing_state: Mapped[str | None] = mapped_column(String(3), index=True)
    checks: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WatchlistDocument(Base):
    """A lost, stolen or invalidated foreign document (the shape of Interpol's SLTD
    records), imported from a CSV feed; a hit raises the border alert."""

    __tablename__ = "watchlist_documents"
    __table_args__ = (UniqueConstraint("issuing_state", "document_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_number: Mapped[str] = mapped_column(String(32), index=True)
    document_type: Mapped[str] = mapped_column(String(2))
    issuing_state: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(100))
    reported_on: Mapped[dt.date | None] = mapped_column(Date)
    imported_by: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# -- elections ---------------------------------------------------------------------------------
class Election(Base):
    __tablename__ = "elections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    election_date: Mapped[dt.date] = mapped_column(Date)
    eligibility_date: Mapped[dt.date] = mapped_column(Date)
    min_age: Mapped[int] = mapped_column(Integer, default=18)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft|frozen|closed
    roll_size: Mapped[int] = mapped_column(Integer, default=0)
    roll_digest: Mapped[str | None] = mapped_column(String(64))
    roll_signature: Mapped[str | None] = mapped_column(Text)
    roll_key_id: Mapped[str | None] = mapped_column(String(64))
    roll_frozen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class District(Base):
    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))


class PollingCentre(Base):
    __tablename__ = "polling_centres"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)

    district: Mapped[District] = relationship()


class Station(Base):
    """A polling station; its Ed25519 public key verifies its offline check-in logs."""

    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    centre_id: Mapped[int] = mapped_column(ForeignKey("polling_centres.id"), index=True)
    public_key: Mapped[str] = mapped_column(Text)

    centre: Mapped[PollingCentre] = relationship()


class RollEntry(Base):
    __tablename__ = "roll_entries"
    __table_args__ = (UniqueConstraint("election_id", "person_db_id", name="uq_roll_person"),
                      UniqueConstraint("election_id", "voter_number", name="uq_roll_voter"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), index=True)
    person_db_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    voter_number: Mapped[str] = mapped_column(String(32))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)


class RollExclusion(Base):
    __tablename__ = "roll_exclusions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), index=True)
    person_db_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    rule: Mapped[str] = mapped_column(String(64))


class CheckIn(Base):
    """A voter checked in. The unique constraint, not a read-then-write, stops a second one.

    Nothing here (or anywhere) records how anyone voted."""

    __tablename__ = "check_ins"
    __table_args__ = (UniqueConstraint("election_id", "roll_entry_id", name="uq_checkin_once"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), index=True)
    roll_entry_id: Mapped[int] = mapped_column(ForeignKey("roll_entries.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    method: Mapped[str] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column()
    clerk: Mapped[str] = mapped_column(String(100))
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Anomaly(Base):
    """Something an election audit must see: a double check-in across stations, a tampered
    station log."""

    __tablename__ = "anomalies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    station_code: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# -- vehicles ----------------------------------------------------------------------------------
class Vehicle(Base):
    """A registered vehicle: its VIN, what it is, who owns it (a person or an organisation)
    and its current plate. The unique (plate_country, plate) pair is what keeps one plate on
    one vehicle at a time; ``plate_assignments`` keeps the history."""

    __tablename__ = "vehicles"
    __table_args__ = (UniqueConstraint("plate_country", "plate", name="uq_vehicle_plate"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vin: Mapped[str] = mapped_column(String(17), unique=True, index=True)
    wmi: Mapped[str] = mapped_column(String(3), index=True)
    manufacturer: Mapped[str | None] = mapped_column(String(100))
    make: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    colour: Mapped[str] = mapped_column(String(32))
    year: Mapped[int | None] = mapped_column(Integer)
    vehicle_class: Mapped[str] = mapped_column(String(8))
    owner_person_db_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    owner_organisation: Mapped[str | None] = mapped_column(String(200))
    plate: Mapped[str | None] = mapped_column(String(16), index=True)
    plate_country: Mapped[str | None] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(16), index=True, default="registered")
    registered_by: Mapped[str] = mapped_column(String(100))
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deregistered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    deregistration_reason: Mapped[str | None] = mapped_column(Text)

    owner_person: Mapped[Person | None] = relationship()


class PlateAssignment(Base):
    """One plate on one vehicle from ``assigned_at`` until ``ended_at`` (NULL: current)."""

    __tablename__ = "plate_assignments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    plate: Mapped[str] = mapped_column(String(16), index=True)
    country: Mapped[str] = mapped_column(String(6))
    assigned_by: Mapped[str] = mapped_column(String(100))
    assigned_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(100))


class EPlate(Base):
    """A signed electronic plate (COSE_Sign1 on an RFID tag and a windscreen QR) and its
    status; every status but ``valid`` puts its serial on the signed revocation list."""

    __tablename__ = "eplates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    plate: Mapped[str] = mapped_column(String(16), index=True)
    country: Mapped[str] = mapped_column(String(6))
    vin_digest: Mapped[str] = mapped_column(String(32))
    vehicle_class: Mapped[str] = mapped_column(String(8))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date] = mapped_column(Date)
    key_id: Mapped[str] = mapped_column(String(64))
    credential: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), index=True, default="valid")
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True),
                                                           default=utcnow)


# -- sightings, hotlist, alerts -----------------------------------------------------------------
class Camera(Base):
    """A plate camera (or an officer's post) at a known place: sightings name it, and its
    coordinates are what make two sightings of one plate an impossible journey."""

    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float] = mapped_column()
    longitude: Mapped[float] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Sighting(Base):
    """One plate read by one camera at one time, with what else was seen there (make,
    colour, an e-plate tag) and the evidence image (encrypted, loaded only when asked for).
    The (plate, seen_at) index finds a plate's previous and next sightings."""

    __tablename__ = "sightings"
    __table_args__ = (Index("ix_sightings_plate_seen_at", "plate", "seen_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    camera_db_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    plate_country: Mapped[str | None] = mapped_column(String(6))
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    confidence: Mapped[float | None] = mapped_column()
    observed_make: Mapped[str | None] = mapped_column(String(64))
    observed_colour: Mapped[str | None] = mapped_column(String(32))
    tag_serial: Mapped[str | None] = mapped_column(String(16))
    tag_plate: Mapped[str | None] = mapped_column(String(16))
    tag_valid: Mapped[bool | None] = mapped_column(Boolean)
    image: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    source: Mapped[str] = mapped_column(String(16))
    recorded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    camera: Mapped[Camera] = relationship()


class HotlistEntry(Base):
    """A plate to stop or watch: stolen, wanted, registration expired, plate revoked.
    Removing an entry deactivates it (the row and the audit log keep its history)."""

    __tablename__ = "hotlist"
    __table_args__ = (UniqueConstraint("country", "plate", "reason", name="uq_hotlist_entry"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plate: Mapped[str] = mapped_column(String(16), index=True)
    country: Mapped[str] = mapped_column(String(6))
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class VehicleAlert(Base):
    """Something an officer must see about a plate (hotlist hit, cloned plate...), with its
    reasons as sentences and the sightings that are its evidence. ``dedup_key`` keeps one
    alert per pair of sightings however often a journey is re-checked."""

    __tablename__ = "vehicle_alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    plate: Mapped[str] = mapped_column(String(16), index=True)
    country: Mapped[str | None] = mapped_column(String(6))
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    sighting_ids: Mapped[list] = mapped_column(JSON, default=list)
    dedup_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="open")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                    index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_note: Mapped[str | None] = mapped_column(Text)

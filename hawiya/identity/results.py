"""Typed results of the identity service: what crosses the boundary to the API, CLI and
other services.

Every verdict carries its scores, threshold and reason so it can be explained to an
adjudicator or auditor. The API declares these as response models, so the OpenAPI document
describes exactly what a client receives; the CLI prints ``model_dump(mode="json")``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Result(BaseModel):
    """Base of every service result: plain data, serialisable, no surprises."""

    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> dict:
        return self.model_dump(mode="json")


class ModalityScore(Result):
    """One modality's best score against one person, with its threshold and evidence
    (-log10 of the false-match rate at that score)."""

    score: float
    threshold: float
    match: bool
    evidence: float


class Decision(Result):
    """A match decision: one modality's threshold, or fused evidence over several."""

    match: bool
    score: float
    threshold: float
    score_kind: str = Field(description="the modality name, or 'fused-evidence'")
    modalities: dict[str, ModalityScore]
    reason: str = ""


class Candidate(Result):
    """A person a 1:N search returned, with the decision on them."""

    person_id: str
    reference_id: str | None = None
    name: str
    status: str
    score: float
    score_kind: str
    match: bool
    modalities: dict[str, ModalityScore]


class CandidateRef(Result):
    """A candidate as stored on an enrolment or a case: who, how strong, on what."""

    person_id: str
    score: float
    score_kind: str
    modalities: dict[str, ModalityScore]


class SearchSummary(Result):
    """How a 1:N search was decided: its size, target FPIR and the evidence that needs."""

    gallery_size: int = Field(0, description="people searched")
    target_fpir: float = Field(0.0, description="false-positive identification rate "
                                                "allowed per search")
    required_evidence: float = Field(0.0, description="-log10 of the per-comparison FMR "
                                                      "the search needed")
    decidable: bool = Field(True, description="false when the captured modalities cannot "
                                              "reach that evidence: nobody is named")
    reason: str = ""

    @classmethod
    def of(cls, need) -> SearchSummary:
        return cls(gallery_size=need.gallery_size, target_fpir=need.target_fpir,
                   required_evidence=need.evidence, decidable=need.decidable,
                   reason=need.reason)


class EnrollResult(Result):
    person_id: str
    reference_id: str | None = None
    status: Literal["enrolled", "potential_duplicate"]
    candidates: list[CandidateRef]
    threshold: float | None = Field(
        None, description="the de-duplication threshold (single modality), else null")
    case_id: int | None = None
    templates: int
    modalities: list[str]
    quality: dict[str, int] = Field(description="'modality:position' -> quality 0-100")
    request_id: str
    replayed: bool = False
    search: SearchSummary | None = Field(None, description="the de-duplication search")


class VerifyResult(Decision):
    person_id: str
    reference_id: str | None = None
    status: str
    probe_quality: dict[str, int]


class IdentifyResult(Result):
    candidates: list[Candidate]
    threshold: float
    modalities: list[str]
    probe_quality: dict[str, int]
    gallery_size: int = Field(0, description="people searched")
    scope: str | None = None
    target_fpir: float = 0.0
    required_evidence: float = 0.0
    decidable: bool = True
    reason: str = ""


class TemplateInfo(Result):
    modality: str
    position: str
    algorithm: str
    quality: int


class PersonSummary(Result):
    person_id: str
    reference_id: str | None = None
    name: str
    given_name: str | None = None
    father_name: str | None = None
    grandfather_name: str | None = None
    family_name: str | None = None
    status: str
    date_of_birth: str | None = None
    sex: str | None = None
    district: str | None = None
    merged_into: str | None = None
    created_at: str | None = None


class PersonDetail(PersonSummary):
    templates: list[TemplateInfo]


class PersonList(Result):
    persons: list[PersonSummary]


class CaseSummary(Result):
    case_id: int
    person: PersonSummary
    candidates: list[dict]
    status: str
    decision: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    note: str | None = None
    strongest_evidence: float = Field(0.0, description="the best candidate's evidence "
                                                       "(-log10 FMR, summed over modalities)")
    proposed_decision: str | None = None
    proposed_by: str | None = None
    proposed_at: str | None = None
    awaiting_confirmation: bool = Field(False, description="a 'distinct' against strong "
                                                           "evidence waits for a second "
                                                           "adjudicator")


class CaptureRef(Result):
    """A kept capture an adjudicator may look at (role-gated, each view audited)."""

    person_id: str
    modality: str
    position: str
    url: str


class CaseParty(Result):
    """The held person or one candidate, with what the adjudicator compares."""

    person: PersonSummary
    portrait: str | None = Field(None, description="enrolment portrait (data URL)")
    captures: list[CaptureRef]
    modalities: dict[str, ModalityScore] = Field(default_factory=dict)
    score: float | None = None
    score_kind: str | None = None


class CaseDetail(CaseSummary):
    probe: CaseParty
    matches: list[CaseParty]
    enrolled_by: str | None = None
    four_eyes_evidence: float


class CaseList(Result):
    cases: list[CaseSummary]


class AlgorithmCount(Result):
    modality: str
    algorithm: str
    current: bool = Field(description="made by the engine configured now")
    templates: int
    people: int
    with_raw_capture: int


class TemplatesStatus(Result):
    algorithms: list[AlgorithmCount]
    configured: dict[str, str]
    stale: int = Field(description="templates of an algorithm no engine uses now")


class ReextractResult(Result):
    algorithm: str
    to_algorithm: str
    reextracted: int
    failed: int
    recapture: list[dict] = Field(description="people who must be captured again, and why")

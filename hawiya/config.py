"""One settings object: defaults, then an optional YAML file (``HAWIYA_CONFIG``), then the
environment, then explicit arguments; validated once at start-up.

Sections: one per modality (engine, engine parameters including quality limits,
thresholds, calibration points), and one per service (fusion, credentials, auth). A bad
value stops start-up with its key and the reason (:class:`hawiya.errors.ConfigError`).
Decisions read thresholds and calibration from here each time they run, so one change
moves single-modality and fused decisions together.

Environment: ``HAWIYA_<KEY>`` for top-level keys, ``HAWIYA_<SECTION>__<KEY>`` for nested
ones (``HAWIYA_MODALITIES__FACE__THRESHOLDS__VERIFY=0.94``), and the older flat names
(``HAWIYA_FACE_THRESHOLD``…) listed in ``LEGACY_ENV``.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from hawiya.errors import ConfigError

# -- defaults for the shipped modalities ---------------------------------------------------
# Face thresholds are cosine similarities of L2-normalised dlib embeddings. Calibration from
# real photos (`python benchmarks/face_study.py`): the higher of Georgia Tech colour photos
# alone and Georgia Tech + Yale pooled (105,851 impostor pairs) at each FMR point; the 1e-4
# point rests on 10 false matches (90% interval 0.953-0.969). Verify at the pooled FMR 1e-2
# point (1e-3 would cost 4.9% FNMR on Georgia Tech, 12.8% pooled); de-duplication below
# the equal-error point (0.935-0.939): a candidate goes to a human, not to a verdict.
# Iris scores are 1 - normalised fractional Hamming distance, from `hawiya eval iris
# ../shared/data/iris/casia1`: FMR 1e-2 at 0.594, 1e-3 at 0.612, 1e-4 at 0.627.
# Finger scores from `hawiya eval finger DB --fvc` on FVC2002 DB1-4_B: FMR 1e-3 at
# 0.165 / 0.167 / 0.143 / 0.198 per set, 0.172 pooled; verify at the most conservative set.
# Calibration points are (FMR, threshold); the 0.5 points are the impostor score means.
DEFAULT_MODALITIES: dict[str, dict[str, Any]] = {
    "face": {"engine": "dlib-resnet", "thresholds": {"verify": 0.938, "dedup": 0.93},
             "calibration": [(0.5, 0.840), (1e-2, 0.938), (1e-3, 0.954), (1e-4, 0.966)],
             # A verification or search probe down to 16 px between the eyes: false
             # matches stay under target at every size; at 12 px detection fails.
             "probe_params": {"quality": {"min_iod_px": 16.0}}},
    "iris": {"engine": "hawiya-iris-loggabor", "thresholds": {"verify": 0.627, "dedup": 0.612},
             "calibration": [(0.5, 0.548), (1e-2, 0.594), (1e-3, 0.612), (1e-4, 0.627)]},
    "finger": {"engine": "hawiya-finger-leader",
               "thresholds": {"verify": 0.20, "dedup": 0.172},
               "calibration": [(0.5, 0.057), (1e-2, 0.134), (1e-3, 0.172)]},
}

# Older flat environment names, kept because operators' scripts set them.
LEGACY_ENV: dict[str, tuple[str, ...]] = {
    "HAWIYA_FACE_THRESHOLD": ("modalities", "face", "thresholds", "verify"),
    "HAWIYA_FACE_DEDUP_THRESHOLD": ("modalities", "face", "thresholds", "dedup"),
    "HAWIYA_IRIS_THRESHOLD": ("modalities", "iris", "thresholds", "verify"),
    "HAWIYA_IRIS_DEDUP_THRESHOLD": ("modalities", "iris", "thresholds", "dedup"),
    "HAWIYA_FINGER_THRESHOLD": ("modalities", "finger", "thresholds", "verify"),
    "HAWIYA_FINGER_DEDUP_THRESHOLD": ("modalities", "finger", "thresholds", "dedup"),
    "HAWIYA_FACE_DETECTOR": ("modalities", "face", "params", "detect", "detector"),
    "HAWIYA_FUSION_TARGET_FMR": ("fusion", "target_fmr"),
    "HAWIYA_ISSUING_STATE": ("credentials", "issuing_state"),
    "HAWIYA_ISSUING_AUTHORITY": ("credentials", "issuing_authority"),
}
SECRET_KEYS = ("template_key", "password")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Thresholds(Section):
    verify: float = Field(description="1:1 decision threshold (score ≥ threshold matches)")
    dedup: float = Field(description="threshold that holds an enrolment for adjudication")

    @field_validator("verify", "dedup")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class ModalitySettings(Section):
    """One modality: which engine, its parameters (including quality limits), thresholds and
    the (FMR, threshold) calibration that turns its scores into evidence."""

    enabled: bool = True
    engine: str
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="engine parameters (see the engine's config)")
    probe_params: dict[str, Any] = Field(
        default_factory=dict, description="overrides of params for verification and search "
        "probes (e.g. quality limits): enrolment captures and probes have separate policies; "
        "only template-neutral parameters may differ")
    thresholds: Thresholds
    calibration: list[tuple[float, float]]

    @field_validator("calibration")
    @classmethod
    def _calibration(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        from hawiya.biometrics.fusion import Calibration

        Calibration(tuple(tuple(p) for p in points))  # raises ValueError with the reason
        return points

    @model_validator(mode="after")
    def _thresholds_in_calibrated_range(self) -> ModalitySettings:
        """A threshold outside what the calibration spans (from its FMR 0.5 point to an
        FMR of 1e-12) would accept everyone or no one."""
        from hawiya.biometrics.fusion import MAX_EVIDENCE, Calibration

        cal = Calibration(tuple(tuple(p) for p in self.calibration))
        low, high = cal.score_for(-math.log10(0.5)), cal.score_for(MAX_EVIDENCE)
        for name in ("verify", "dedup"):
            value = getattr(self.thresholds, name)
            if not low <= value <= high:
                raise ValueError(f"thresholds.{name} {value} is outside the calibrated range "
                                 f"{low:.4f}..{high:.4f} (FMR 0.5 to 1e-12)")
        return self


class FusionSettings(Section):
    target_fmr: float = Field(1e-4, gt=0, lt=1,
                              description="FMR at which a fused multimodal decision accepts")


class TargetFPIR(Section):
    """False-positive identification rate a 1:N search may have, per use: the chance that a
    search for someone not in the gallery names somebody."""

    identify: float = Field(1e-3, gt=0, lt=1)
    check_in: float = Field(1e-3, gt=0, lt=1)
    dedup: float = Field(1e-2, gt=0, lt=1, description="holds an enrolment for a human")


class IdentitySettings(Section):
    target_fpir: TargetFPIR = Field(default_factory=TargetFPIR)
    four_eyes_evidence: float = Field(
        3.0, ge=0, description="a 'distinct' decision against a candidate with at least this "
                               "evidence (-log10 FMR) needs a written reason and a second "
                               "adjudicator's confirmation")


class CredentialsSettings(Section):
    issuing_state: str = "UTO"
    issuing_authority: str = Field("Hawiya Civil Registry", min_length=1, max_length=100)
    document_valid_years: int = Field(10, ge=1, le=50)

    @field_validator("issuing_state")
    @classmethod
    def _state(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Z<]{3}", v):
            raise ValueError("must be a 3-letter ICAO code such as UTO or LBY")
        return v


class AuthSettings(Section):
    """Bearer tokens and log-in throttling. Failed log-ins are counted per account (since
    its last success) and per client address within ``failure_window_minutes``: from
    ``max_failures`` on, each further try must wait a delay that doubles per failure
    (``delay_seconds``, 2x, 4x... answered 429 with ``Retry-After``); at
    ``lock_after_failures`` the account (or address) is locked for ``lock_minutes``, during
    which even the right password is refused."""

    token_ttl_hours: int = Field(12, ge=1, le=24 * 30)
    max_failures: int = Field(5, ge=1, le=1000,
                              description="failures of one account before delays start")
    failure_window_minutes: float = Field(15, gt=0, le=24 * 60,
                                          description="how far back failures count")
    lock_minutes: float = Field(15, gt=0, le=24 * 60,
                                description="how long a lock lasts")
    delay_seconds: float = Field(1, gt=0, le=3600,
                                 description="the first delay; doubles per further failure")
    lock_after_failures: int = Field(10, ge=1, le=1000,
                                     description="failures of one account that lock it")
    address_max_failures: int = Field(
        20, ge=1, le=100000, description="failures from one client address (any accounts) "
        "before its delays start; it locks after as many more failures as an account does "
        "between max_failures and lock_after_failures")

    @model_validator(mode="after")
    def _lock_after_delays(self) -> AuthSettings:
        if self.lock_after_failures < self.max_failures:
            raise ValueError("lock_after_failures must be at least max_failures")
        return self


class ApiSettings(Section):
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="JSON and form bodies")
    max_multipart_bytes: int = Field(64 * 1024 * 1024, ge=1024,
                                     description="uploads (each file also at most 25 MiB)")


class ServerSettings(Section):
    certfile: Path | None = Field(None, description="TLS certificate chain (PEM); with "
                                                    "keyfile the server speaks HTTPS")
    keyfile: Path | None = Field(None, description="TLS private key (PEM, unencrypted)")


class VehicleSettings(Section):
    """Vehicles: the home country of the registry and plate formats beyond the shipped ones
    (``hawiya/vehicles/plate_formats.yaml``: Libya, EU states, US states, Brazil...)."""

    country: str = Field("LY", pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$",
                         description="ISO 3166 code whose plate formats apply by default "
                                     "(a US state as US-CA)")
    plate_formats_file: Path | None = Field(None, description="YAML with more or overriding "
                                                              "plate formats, same shape as "
                                                              "the shipped file")
    eplate_valid_years: int = Field(5, ge=1, le=20)


class _Defaults(PydanticBaseSettingsSource):
    """Lowest-priority source: the shipped per-modality sections, deep-merged under
    whatever the file and environment set."""

    def get_field_value(self, field, field_name):  # pragma: no cover - not used
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {"modalities": {m: dict(v) for m, v in DEFAULT_MODALITIES.items()}}


class _YamlFile(PydanticBaseSettingsSource):
    """The YAML file named by ``HAWIYA_CONFIG`` (if any)."""

    def get_field_value(self, field, field_name):  # pragma: no cover - not used
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("HAWIYA_CONFIG")
        if not path:
            return {}
        return read_yaml(Path(path))


class _LegacyEnv(PydanticBaseSettingsSource):
    def get_field_value(self, field, field_name):  # pragma: no cover - not used
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, path in LEGACY_ENV.items():
            raw = os.environ.get(name)
            if raw in (None, ""):
                continue
            node = out
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = raw
        if os.environ.get("HAWIYA_KEEP_RAW_IMAGES"):
            out["keep_raw_images"] = os.environ["HAWIYA_KEEP_RAW_IMAGES"] in ("1", "true",
                                                                             "yes")
        return out


def read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of sections")
    return data


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAWIYA_", env_nested_delimiter="__",
                                      extra="forbid", validate_default=True)

    data_dir: Path = Path("./hawiya-data")
    database_url: str | None = Field(None, description="default sqlite:///DATA_DIR/hawiya.db")
    template_key: SecretStr | None = Field(
        None, description="base64 AES-256 key for templates (else DATA_DIR/keys/template.key)")
    keep_raw_images: bool = False
    modalities: dict[str, ModalitySettings]
    fusion: FusionSettings = Field(default_factory=FusionSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    credentials: CredentialsSettings = Field(default_factory=CredentialsSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    vehicles: VehicleSettings = Field(default_factory=VehicleSettings)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        return (init_settings, env_settings, _LegacyEnv(settings_cls),
                _YamlFile(settings_cls), _Defaults(settings_cls))

    @field_validator("template_key")
    @classmethod
    def _key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        import base64
        import binascii

        try:
            raw = base64.b64decode(v.get_secret_value().strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be a base64 AES-256 key (32 bytes)") from None
        if len(raw) != 32:
            raise ValueError(f"must be 32 bytes (AES-256), got {len(raw)}")
        return v

    @field_validator("database_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return v or None

    def model_post_init(self, _context: Any) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'hawiya.db'}"

    # -- per-modality lookups (read at decision time) ---------------------------------
    def modality(self, name: str) -> ModalitySettings:
        try:
            return self.modalities[name]
        except KeyError:
            raise ConfigError(f"modalities.{name}: no such section") from None

    def verify_threshold(self, modality: str) -> float:
        return self.modality(modality).thresholds.verify

    def dedup_threshold(self, modality: str) -> float:
        return self.modality(modality).thresholds.dedup

    def calibration(self, modality: str):
        from hawiya.biometrics.fusion import Calibration

        return Calibration(tuple(tuple(p) for p in self.modality(modality).calibration))

    @property
    def fusion_target_fmr(self) -> float:
        return self.fusion.target_fmr

    # -- paths --------------------------------------------------------------------------
    @property
    def key_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def template_key_path(self) -> Path:
        return self.key_dir / "template.key"

    @property
    def gallery_dir(self) -> Path:
        return self.data_dir / "galleries"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    # -- display --------------------------------------------------------------------------
    def public_dict(self) -> dict[str, Any]:
        """The effective configuration, secrets masked (``hawiya config show``)."""
        data = self.model_dump(mode="json")
        data["database_url"] = _mask_url(self.database_url or "")
        return _mask(data)


def _mask_url(url: str) -> str:
    url = re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
    return re.sub(r"((?:password|passwd|pwd|secret|token)=)[^&;]*", r"\1***", url,
                  flags=re.IGNORECASE)


def _mask(node: Any, key: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _mask(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask(v, key) for v in node]
    if node is not None and any(s in key for s in SECRET_KEYS):
        return "***"
    return node


def _explain(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err.get("loc", ())) or "(top level)"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown setting"
        lines.append(f"{key}: {msg}")
    return "; ".join(lines)


def load_settings(data_dir: str | os.PathLike | None = None,
                  database_url: str | None = None, **overrides: Any) -> Settings:
    """The effective settings; a bad value raises ConfigError naming the key and reason."""
    if data_dir is not None:
        overrides["data_dir"] = Path(data_dir)
    if database_url is not None:
        overrides["database_url"] = database_url
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {_explain(exc)}") from None

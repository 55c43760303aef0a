"""The registry of modalities: everything identity, elections and the interfaces need to
know about a modality, in one ``ModalitySpec`` per modality.

Adding a modality is one package (its engine and gallery), one line in ``BUILTIN`` (or a
``register`` call) and one config section (``modalities.NAME`` with engine, thresholds and
calibration). Nothing else branches on a modality's name.

Engines are chosen in config (``modalities.NAME.engine`` and ``params``). Parameters that
change what a template contains change the engine's algorithm id (a digest is appended to
the algorithm name), so templates made under other settings are never compared with new
ones; parameters a spec lists as ``neutral_params`` (quality limits, matching) do not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hawiya.biometrics.capture import Capture
from hawiya.biometrics.template import Template
from hawiya.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from hawiya.config import ModalitySettings, Settings

# name -> "module:attribute" of its ModalitySpec (imported on first use: models are heavy).
BUILTIN: dict[str, str] = {
    "face": "hawiya.biometrics.face_spec:SPEC",
    "iris": "hawiya.biometrics.iris_spec:SPEC",
    "finger": "hawiya.biometrics.finger_spec:SPEC",
}
MAX_CAPTURES = 16  # a face, two irises, ten fingers and some spare, per request


@dataclass(frozen=True)
class EngineKind:
    """One engine a modality can be configured with.

    ``default_config`` is the engine's parameter dataclass; ``algorithm(cfg)`` names the
    templates that config makes; ``build(cfg, algorithm)`` loads the engine (once)."""

    name: str
    version: int
    default_config: Callable[[], Any]
    build: Callable[[Any, str], Any]
    algorithm: Callable[[Any], str] | None = None
    neutral_params: tuple[str, ...] = ("quality", "matching")


@dataclass(frozen=True)
class ModalitySpec:
    """What the platform knows about one modality.

    - ``positions``: capture positions accepted (``unknown`` when a label is not known).
    - ``engines``: engine kinds selectable in config, by name.
    - ``new_gallery(engine)`` / ``load_gallery(path, engine)``: its 1:N gallery over
      Templates (``add``, ``remove``, ``search_batch``, ``save``, ``len``).
    - ``labelled``: a labelled probe is compared only with the same position (or
      ``unknown``); with ``detect_wrong_label``, a probe that matches another position
      and not its own is refused as wrongly labelled.
    - ``unique_positions``: a position may appear once per request.
    - ``check_request(engine, templates, settings)``: consistency of one request's captures
      of this modality (one face per person, two different eyes…).
    """

    name: str
    positions: tuple[str, ...]
    engines: Mapping[str, EngineKind]
    new_gallery: Callable[[Any], Any]
    load_gallery: Callable[[Path, Any], Any]
    default_position: str = "unknown"
    labelled: bool = False
    label_noun: str = "position"
    detect_wrong_label: bool = False
    unique_positions: bool = False
    max_per_request: int = 10
    check_request: Callable[[Any, Sequence[Template], Settings], None] | None = None
    meta: dict = field(default_factory=dict)


_registry: dict[str, ModalitySpec | str] = dict(BUILTIN)
_lock = threading.Lock()


def register(spec: ModalitySpec) -> None:
    """Add (or replace) a modality at run time; plug-ins and tests use this."""
    with _lock:
        _registry[spec.name] = spec
        for key in [k for k in _engines if k[0] == spec.name]:
            del _engines[key]


def unregister(name: str) -> None:
    with _lock:
        if name in BUILTIN:
            _registry[name] = BUILTIN[name]
        else:
            _registry.pop(name, None)


def names() -> tuple[str, ...]:
    return tuple(_registry)


def get(name: str) -> ModalitySpec:
    entry = _registry.get(name)
    if entry is None:
        raise InvalidInput(f"unknown modality {name!r} (known: {', '.join(_registry)})")
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        spec = getattr(importlib.import_module(module), attr)
        with _lock:
            _registry[name] = spec
        return spec
    return entry


# -- captures ---------------------------------------------------------------------------
def check_labels(captures: Sequence[Capture]) -> None:
    """Each capture names a registered modality and one of its positions."""
    for cap in captures:
        spec = get(cap.modality)
        if cap.position is not None and cap.position not in spec.positions:
            raise InvalidInput(f"{spec.name} position must be one of "
                               f"{', '.join(spec.positions)}")


def check_captures(captures: Sequence[Capture], *, enabled: Sequence[str] | None = None
                   ) -> list[Capture]:
    """A request's captures, validated against the registry (modality, position, counts);
    a capture without a position gets its modality's default."""
    captures = [c if c.position is not None else
                dataclasses.replace(c, position=get(c.modality).default_position)
                for c in captures]
    if not captures:
        raise InvalidInput("at least one biometric capture (face, iris or finger image) is "
                           "required")
    if len(captures) > MAX_CAPTURES:
        raise InvalidInput(f"at most {MAX_CAPTURES} images per request")
    per: dict[str, list[Capture]] = {}
    for cap in captures:
        spec = get(cap.modality)
        if enabled is not None and cap.modality not in enabled:
            raise InvalidInput(f"modality {cap.modality!r} is not enabled here (enabled: "
                               f"{', '.join(enabled)})")
        if cap.position not in spec.positions:
            raise InvalidInput(f"{spec.name} position must be one of "
                               f"{', '.join(spec.positions)}")
        per.setdefault(cap.modality, []).append(cap)
    for modality, caps in per.items():
        spec = get(modality)
        if len(caps) > spec.max_per_request:
            raise InvalidInput(f"at most {spec.max_per_request} {modality} images per request")
        if spec.unique_positions:
            seen: set[str] = set()
            for cap in caps:
                if cap.position != "unknown" and cap.position in seen:
                    raise InvalidInput(f"two images for {cap.position}")
                seen.add(cap.position)
    return captures


# -- engines from config ----------------------------------------------------------------
_engines: dict[tuple, Any] = {}


def apply_params(config: Any, params: Mapping[str, Any], where: str) -> Any:
    """``config`` (a dataclass) with ``params`` applied, recursively; unknown keys and
    wrong types raise ConfigError naming the key."""
    if not isinstance(params, Mapping):
        raise ConfigError(f"{where}: must be a mapping")
    names_ = {f.name: f for f in dataclasses.fields(config)}
    changes = {}
    for key, value in params.items():
        if key not in names_:
            raise ConfigError(f"{where}.{key}: unknown setting (known: {', '.join(names_)})")
        current = getattr(config, key)
        if dataclasses.is_dataclass(current):
            changes[key] = apply_params(current, value, f"{where}.{key}")
            continue
        try:
            changes[key] = _coerce(current, value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}.{key}: {exc}") from None
    try:
        return dataclasses.replace(config, **changes)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _coerce(current: Any, value: Any) -> Any:
    if isinstance(current, bool):
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no"):
            return value.lower() in ("1", "true", "yes")
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if isinstance(current, int | float) and not isinstance(value, bool):
        out = type(current)(value)
        if isinstance(current, int) and out != float(value):
            raise ValueError(f"expected an integer, got {value!r}")
        return out
    if isinstance(current, tuple):
        return tuple(value)
    if isinstance(current, str):
        if not isinstance(value, str):
            raise TypeError(f"expected text, got {value!r}")
        return value
    return value


def _template_params(cfg: Any, neutral: Sequence[str]) -> dict:
    data = dataclasses.asdict(cfg)
    return {k: v for k, v in data.items() if k not in neutral}


def algorithm_name(kind: EngineKind, cfg: Any) -> str:
    """The algorithm name templates of ``cfg`` carry: the engine's own name, plus a short
    digest when a template-changing parameter differs from the engine's default."""
    base = kind.algorithm(cfg) if kind.algorithm else kind.name
    default = _template_params(kind.default_config(), kind.neutral_params)
    ours = _template_params(cfg, kind.neutral_params)
    if ours == default:
        return base
    digest = hashlib.sha256(json.dumps(ours, sort_keys=True, default=str).encode())
    return f"{base}+{digest.hexdigest()[:8]}"


def engine_kind(modality: str, section: ModalitySettings) -> EngineKind:
    spec = get(modality)
    kind = spec.engines.get(section.engine)
    if kind is None:
        raise ConfigError(f"modalities.{modality}.engine: unknown engine {section.engine!r} "
                          f"(known: {', '.join(spec.engines)})")
    return kind


def configured(modality: str, section: ModalitySettings) -> tuple[EngineKind, Any, str]:
    """(engine kind, parameter config, algorithm id) for a modality's config section."""
    kind = engine_kind(modality, section)
    cfg = apply_params(kind.default_config(), section.params,
                       f"modalities.{modality}.params")
    return kind, cfg, f"{algorithm_name(kind, cfg)}/{kind.version}"


def algorithm_id(settings: Settings, modality: str) -> str:
    """The algorithm id of the templates the configured engine makes (no model loaded)."""
    return configured(modality, settings.modality(modality))[2]


PURPOSES = ("enrol", "probe")


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (_deep_merge(out[key], value)
                    if isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
                    else value)
    return out


def _section_for(section: ModalitySettings, purpose: str) -> ModalitySettings:
    if purpose not in PURPOSES:
        raise InvalidInput(f"purpose must be one of {', '.join(PURPOSES)}")
    if purpose == "enrol" or not section.probe_params:
        return section
    return section.model_copy(update={"params": _deep_merge(section.params,
                                                             section.probe_params)})


def engine_for(settings: Settings, modality: str, purpose: str = "enrol") -> Any:
    """The configured engine of a modality, loaded once per (engine, parameters). Probes
    (``purpose="probe"``) may have their own quality policy (``probe_params``)."""
    section = settings.modality(modality)
    if not section.enabled:
        raise InvalidInput(f"modality {modality!r} is disabled in this deployment")
    kind, cfg, algo = configured(modality, _section_for(section, purpose))
    key = (modality, algo, json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str))
    with _lock:
        engine = _engines.get(key)
    if engine is None:
        engine = kind.build(cfg, algo.rsplit("/", 1)[0])
        with _lock:
            engine = _engines.setdefault(key, engine)
    return engine


def validate(settings: Settings) -> None:
    """Every configured modality is registered and its engine and parameters are valid
    (called at start-up, so a bad value stops it with the key and the reason)."""
    for name in settings.modalities:
        if name not in _registry:
            raise ConfigError(f"modalities.{name}: no such modality is registered "
                              f"(known: {', '.join(_registry)})")
        section = settings.modalities[name]
        enrol = configured(name, section)[2]
        probe = configured(name, _section_for(section, "probe"))[2]
        if probe != enrol:
            raise ConfigError(f"modalities.{name}.probe_params: changes what a template "
                              "contains (only quality limits and other template-neutral "
                              "parameters may differ for probes)")


def enabled(settings: Settings) -> list[str]:
    return [m for m, s in settings.modalities.items() if s.enabled and m in _registry]

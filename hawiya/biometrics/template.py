"""Versioned biometric template: what an engine extracts and the registry stores.

Serialised form (all integers big-endian)::

    b"HWYT" | u8 format version | u16 header length | JSON header | payload bytes

The header names the modality, position, algorithm id and version, and quality, so a template
made by an older algorithm is recognised (and re-extracted) instead of being silently compared
with a new one.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field

import numpy as np

from hawiya.errors import InvalidInput, TemplateMismatch

MAGIC = b"HWYT"
FORMAT_VERSION = 1
MODALITY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")  # which exist: biometrics.modalities
MAX_TEMPLATE_BYTES = 1 << 20


@dataclass(frozen=True)
class Template:
    modality: str
    algorithm: str
    version: int
    data: bytes
    quality: int = 0
    position: str = "unknown"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.modality, str) or not MODALITY_RE.match(self.modality):
            raise InvalidInput(f"malformed modality name {self.modality!r}")
        if not 0 <= int(self.quality) <= 100:
            raise InvalidInput(f"quality must be 0-100, got {self.quality}")

    @property
    def algorithm_id(self) -> str:
        return f"{self.algorithm}/{self.version}"

    def check_compatible(self, other: Template) -> None:
        """Refuse comparisons across modality or algorithm versions."""
        if self.modality != other.modality or self.algorithm_id != other.algorithm_id:
            raise TemplateMismatch(
                f"cannot compare {self.modality}:{self.algorithm_id} with "
                f"{other.modality}:{other.algorithm_id}; re-extract the older template"
            )

    def vector(self) -> np.ndarray:
        """Payload as a float32 vector (face embeddings)."""
        return np.frombuffer(self.data, dtype=np.float32)

    def to_bytes(self) -> bytes:
        header = json.dumps(
            {
                "modality": self.modality,
                "position": self.position,
                "algorithm": self.algorithm,
                "version": self.version,
                "quality": int(self.quality),
                "meta": self.meta,
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        return MAGIC + struct.pack(">BH", FORMAT_VERSION, len(header)) + header + self.data

    @classmethod
    def from_bytes(cls, blob: bytes) -> Template:
        if len(blob) > MAX_TEMPLATE_BYTES:
            raise InvalidInput("template too large")
        if len(blob) < 7 or blob[:4] != MAGIC:
            raise InvalidInput("not a Hawiya template (bad magic)")
        fmt, hlen = struct.unpack(">BH", blob[4:7])
        if fmt != FORMAT_VERSION:
            raise InvalidInput(f"unsupported template format version {fmt}")
        if 7 + hlen > len(blob):
            raise InvalidInput("truncated template header")
        try:
            h = json.loads(blob[7 : 7 + hlen])
            return cls(
                modality=h["modality"],
                algorithm=h["algorithm"],
                version=int(h["version"]),
                quality=int(h["quality"]),
                position=h.get("position", "unknown"),
                meta=h.get("meta", {}),
                data=bytes(blob[7 + hlen :]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"malformed template header: {exc}") from exc

"""Composition root: builds the running platform and plugs in what each service
contributes. Only the interfaces (CLI, API, pages, workers) import this module.

A new service that contributes search scopes or background parts registers them here with
one line; services themselves never import this module.
"""

from __future__ import annotations

from hawiya.config import Settings, load_settings
from hawiya.elections.scopes import SCOPES as ELECTION_SCOPES
from hawiya.identity.galleries import GalleryManager
from hawiya.platform import Platform

SCOPE_PROVIDERS = (ELECTION_SCOPES,)


def build_platform(settings: Settings | None = None) -> Platform:
    """A platform with its galleries and named search scopes (nothing is loaded yet)."""
    platform = Platform(settings or load_settings())
    platform.galleries = GalleryManager(platform)
    for provider in SCOPE_PROVIDERS:
        for kind, resolver in provider.items():
            platform.galleries.register_scope(kind, resolver)
    return platform

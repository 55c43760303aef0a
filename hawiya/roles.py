"""Which roles may do what: one table the API routes and the CLI commands both read, so a
logged-in operator has the same rights on either interface (admin always may)."""

from __future__ import annotations

ENROLLERS = ("enrollment_officer",)
VERIFIERS = ("verifier", "enrollment_officer")
READERS = ("enrollment_officer", "adjudicator", "auditor")
ISSUERS = ("enrollment_officer",)
DOCUMENT_CHECKERS = ("verifier", "enrollment_officer", "polling_clerk")
ELECTION_ADMINS = ("election_admin",)
ELECTION_WATCHERS = ("election_admin", "observer", "auditor")
VEHICLE_REGISTRARS = ("vehicle_registrar",)
VEHICLE_READERS = ("vehicle_registrar", "traffic_officer", "auditor")
PLATE_CHECKERS = ("vehicle_registrar", "traffic_officer")
SIGHTING_RECORDERS = ("traffic_officer",)          # cameras report as traffic officers
HOTLIST_EDITORS = ("vehicle_registrar", "traffic_officer")

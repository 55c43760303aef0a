"""Hawiya: national biometric identity and election-integrity platform."""

__version__ = "0.1.0"

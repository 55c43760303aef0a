"""The registry: SQL models, sessions, migrations and repository functions."""

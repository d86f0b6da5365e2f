"""Alembic migrations for the store (a package so that installs ship the revision files)."""

"""Vehicles: registry, signed electronic plates, plate recognition, sightings and alerts."""

"""Elections: geography and stations, voter roll, check-in, offline sync, turnout, audit.

The ballot stays secret: the platform records that a voter was checked in, never how they
voted.
"""

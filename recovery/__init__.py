"""tagpin's recovery service: serves recovery.js, echoes recovery files, records client beacons."""

from recovery.app import create_app

__all__ = ["create_app"]

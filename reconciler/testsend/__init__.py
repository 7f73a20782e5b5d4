"""Test sends: a manifest's push delivered now to your own devices (batch push API)."""

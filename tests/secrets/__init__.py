"""Issue 6: the secrets suite."""

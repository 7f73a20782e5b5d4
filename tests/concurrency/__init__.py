"""Issue 6: the concurrency suite."""

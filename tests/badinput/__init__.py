"""Issue 6: the badinput suite."""

"""The test kit: one schedule body builder, one virtual clock, one emulator fixture family."""

"""Operations: what each command does, between the command line and the stages below it."""

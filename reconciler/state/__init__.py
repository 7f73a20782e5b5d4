"""The state file: the name -> schedule_id mapping, its schema and its safe storage."""

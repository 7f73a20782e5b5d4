"""The state file: name -> schedule_id, fingerprints, protections and the pending journal.

(Storage — atomic save, backup, lock, binding checks — is being built; the models below are the
contract the planner and apply use.)
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

STATE_VERSION = 1


class StateEntry(BaseModel):
    """One managed schedule."""

    model_config = ConfigDict(extra="forbid")

    schedule_id: str
    fingerprint: str  # canonical.fingerprint of the body last applied
    protected: bool = False  # lifecycle.prevent_destroy, remembered after the manifest is gone
    created_at: datetime
    updated_at: datetime


class PendingEntry(BaseModel):
    """A remote write that was started and not yet recorded (crash journal)."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["create", "replace", "update", "delete"]
    name: str
    fingerprint: str  # of the body being written
    old_schedule_id: str | None = None  # for replace / update / delete
    started_at: datetime


class State(BaseModel):
    """The whole state file of one environment."""

    model_config = ConfigDict(extra="forbid")

    version: int = STATE_VERSION
    lineage: str = Field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    binding: str | None = None  # hash of endpoint + AppKey; None until first bound
    entries: dict[str, StateEntry] = Field(default_factory=dict)  # by manifest name
    pending: dict[str, PendingEntry] = Field(default_factory=dict)  # by manifest name

"""Test sends: a manifest's push delivered now to your own devices (batch push API).

Two halves, one module each: ``build`` turns a schedule's push and the given targets into
batch requests (pure: what is refused, left out or mapped, and why), ``send`` sends them and
reads the answers (retrying rate-limited targets, stopping at a global error). A test send is
``plan_send`` then ``send_batches``; both, and the types they take and give, are named here.
"""

from reconciler.testsend.build import By, ContentKind, SendPlan, parse_targets, plan_send
from reconciler.testsend.send import RetryPolicy, SendReport, TargetOutcome, send_batches

__all__ = [
    "By",
    "ContentKind",
    "RetryPolicy",
    "SendPlan",
    "SendReport",
    "TargetOutcome",
    "parse_targets",
    "plan_send",
    "send_batches",
]

"""Schedule-as-code for EngageLab Push.

Keeps an app's scheduled push notifications as YAML manifests in git and reconciles the live app
with them through a plan/apply engine. The public surface is the ``reconciler`` command; how
data flows between the modules is in docs/design.md "Data flow".
"""

__version__ = "0.1.0"

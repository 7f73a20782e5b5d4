"""The emulator's public demo credentials, alone so that naming them imports nothing else."""

DEMO_APP_KEY = "emulatordemoappkey000001"  # 24 characters, like a real AppKey (docs/api.md 1)
DEMO_MASTER_SECRET = "emulator-demo-master-secret"  # noqa: S105 - a public, documented demo pair

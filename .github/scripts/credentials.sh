# shellcheck shell=bash
# Sourced (". .github/scripts/credentials.sh") by the workflow steps that talk to EngageLab.
#
# The step receives the app's credentials as CREDENTIAL_APP_KEY / CREDENTIAL_MASTER_SECRET, read
# from the secrets named by the environment's app_key_env / master_secret_env (APP_KEY_ENV /
# MASTER_SECRET_ENV, default ENGAGELAB_APP_KEY / ENGAGELAB_MASTER_SECRET). The reconciler reads
# them from exactly those variable names, so they are exported under them here; the transport
# copies are dropped. Nothing is printed: values never reach the log (and GitHub masks secrets).
# The names were checked by environments.py (upper case, not PATH, GITHUB_*, LD_*, ...).
export "${APP_KEY_ENV:?APP_KEY_ENV is not set by the workflow}=${CREDENTIAL_APP_KEY-}"
export "${MASTER_SECRET_ENV:?MASTER_SECRET_ENV is not set by the workflow}=${CREDENTIAL_MASTER_SECRET-}"
unset CREDENTIAL_APP_KEY CREDENTIAL_MASTER_SECRET

#!/usr/bin/env bash
# Commit an environment's state file back to the branch the apply workflow runs on.
#
#   .github/scripts/commit-state.sh STATE_FILE ENVIRONMENT
#
# Commits only STATE_FILE (added with -f: .reconciler/ may be git-ignored), with a message
# carrying "[skip ci]" so the push starts no workflow (pushes made with the workflow's
# GITHUB_TOKEN start none anyway). When the push is rejected because the branch moved (another
# environment's apply, or a merge), the commit is re-made on the new tip and pushed again. If the
# new tip changed this state file itself, it stops: the file is the only record of which remote
# schedules this tool owns, and two versions must not be merged blindly.
set -euo pipefail

state=${1:?usage: commit-state.sh STATE_FILE ENVIRONMENT}
env_name=${2:?usage: commit-state.sh STATE_FILE ENVIRONMENT}
branch=${GITHUB_REF_NAME:?GITHUB_REF_NAME must name the branch}
remote=${COMMIT_STATE_REMOTE:-origin}
attempts=${COMMIT_STATE_ATTEMPTS:-5}

if [ ! -e "$state" ]; then
  echo "no state file at $state: nothing to commit"
  exit 0
fi

git config user.name "github-actions[bot]"
git config user.email "41898233+github-actions[bot]@users.noreply.github.com"

saved=$(mktemp)
trap 'rm -f "$saved"' EXIT
cp -- "$state" "$saved"
base=$(git rev-parse HEAD)
message="reconciler: state of ${env_name} after apply of ${GITHUB_SHA:-$base} [skip ci]"

git add -f -- "$state"
if git diff --cached --quiet -- "$state"; then
  echo "state file $state unchanged: nothing to commit"
  exit 0
fi

for attempt in $(seq 1 "$attempts"); do
  git commit --quiet -m "$message"
  if git push --quiet "$remote" "HEAD:refs/heads/$branch"; then
    echo "committed $state to $branch as $(git rev-parse --short HEAD)"
    exit 0
  fi
  echo "push of $state rejected (attempt $attempt of $attempts): $branch moved; re-committing on its new tip"
  git fetch --quiet --depth=1 "$remote" "$branch"
  if ! git diff --quiet "$base" FETCH_HEAD -- "$state"; then
    echo "::error file=$state::$state was changed on $branch while this apply ran; not overwriting it. The applied state is in the workflow artifact; reconcile the two by hand (reconciler state list) before the next apply."
    exit 1
  fi
  base=$(git rev-parse FETCH_HEAD)
  git reset --quiet --hard FETCH_HEAD
  mkdir -p -- "$(dirname -- "$state")"
  cp -- "$saved" "$state"
  git add -f -- "$state"
  sleep $((attempt * 2))
done
echo "::error file=$state::could not push $state to $branch after $attempts attempts; the applied state is in the workflow artifact"
exit 1

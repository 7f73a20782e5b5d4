#!/usr/bin/env bash
# Commit an environment's state file to the state branch (default `reconciler-state`).
#
#   commit-state.sh STATE_FILE ENVIRONMENT BRANCH_DIR BRANCH
#
# Run from the directory of reconciler.yaml, after an apply. BRANCH_DIR is a checkout of BRANCH
# made without persisted credentials; the token (GH_TOKEN, allowed `contents: write`) is used
# for this push only, as an HTTP header on the command line of git, never written to a file.
#
# The state branch is not the default branch: branch protection of the default branch (pull
# requests required) refuses every push of the workflow's token, so the state lives where the
# workflow can always write it. A missing state file after an apply is an error: the file is
# the only record of which remote schedules this tool owns. When the push is rejected because
# the branch moved (another environment's apply), the commit is re-made on the new tip; if the
# new tip changed this state file itself, it stops rather than overwrite it.
set -euo pipefail

state=${1:?usage: commit-state.sh STATE_FILE ENVIRONMENT BRANCH_DIR BRANCH}
env_name=${2:?usage: commit-state.sh STATE_FILE ENVIRONMENT BRANCH_DIR BRANCH}
branch_dir=${3:?usage: commit-state.sh STATE_FILE ENVIRONMENT BRANCH_DIR BRANCH}
branch=${4:?usage: commit-state.sh STATE_FILE ENVIRONMENT BRANCH_DIR BRANCH}
attempts=${COMMIT_STATE_ATTEMPTS:-5}
: "${GH_TOKEN:?GH_TOKEN must hold a token allowed to push $branch}"
applied_marker=".reconciler-applied/$env_name"

if [ ! -f "$state" ]; then
  echo "::error file=$state::the apply left no state file at $state: the schedules it created may be unrecorded. Check the apply log and the live app (reconciler state list) before the next apply."
  exit 1
fi

auth=$(printf 'x-access-token:%s' "$GH_TOKEN" | base64 | tr -d '\n')
echo "::add-mask::$auth"
server=${GITHUB_SERVER_URL:-https://github.com}
push() {
  git -C "$branch_dir" -c "http.$server/.extraheader=AUTHORIZATION: basic $auth" "$@"
}

git -C "$branch_dir" config user.name "github-actions[bot]"
git -C "$branch_dir" config user.email "41898233+github-actions[bot]@users.noreply.github.com"
base=$(git -C "$branch_dir" rev-parse HEAD)
message="reconciler: state of ${env_name} after apply of ${GITHUB_SHA:-unknown} [skip ci]"

place() {
  mkdir -p -- "$(dirname -- "$branch_dir/$state")"
  cp -- "$state" "$branch_dir/$state"
  git -C "$branch_dir" add -f -- "$state"
  # The commit the app now holds (all of it, or with "unfinished" part of it): the next run
  # plans an unfinished environment whatever changed, and refuses an older commit.
  mkdir -p -- "$branch_dir/.reconciler-applied"
  if [ "${APPLIED:-false}" = "true" ]; then
    printf '%s\n' "${GITHUB_SHA:?}" > "$branch_dir/$applied_marker"
  else
    printf '%s unfinished\n' "${GITHUB_SHA:?}" > "$branch_dir/$applied_marker"
  fi
  git -C "$branch_dir" add -f -- "$applied_marker"
}

place
if git -C "$branch_dir" diff --cached --quiet; then
  echo "state of $env_name unchanged: nothing to commit"
  exit 0
fi
for attempt in $(seq 1 "$attempts"); do
  git -C "$branch_dir" commit --quiet -m "$message"
  if push push --quiet origin "HEAD:refs/heads/$branch"; then
    echo "committed $state to $branch as $(git -C "$branch_dir" rev-parse --short HEAD)"
    exit 0
  fi
  echo "push of $state to $branch rejected (attempt $attempt of $attempts); re-committing on its tip"
  push fetch --quiet origin "$branch"
  if ! git -C "$branch_dir" diff --quiet "$base" FETCH_HEAD -- "$state"; then
    echo "::error file=$state::$state was changed on $branch while this apply ran; not overwriting it. The applied state is the artifact state-$env_name of this run; reconcile the two by hand before the next apply."
    exit 1
  fi
  base=$(git -C "$branch_dir" rev-parse FETCH_HEAD)
  git -C "$branch_dir" reset --quiet --hard FETCH_HEAD
  place
  sleep $((attempt * 2))
done
echo "::error file=$state::could not push $state to $branch after $attempts attempts; the applied state is the artifact state-$env_name of this run, and the next apply refuses to start until it is restored"
exit 1

// Keeps exactly one GitHub conversation item per environment, found again through a hidden
// marker on its first line:
//   - postPlan:    the sticky pull-request comment with the Markdown plan (plan.yml);
//   - reportDrift: the one open issue labelled `drift` for an environment (drift.yml);
//   - reportDriftFailure: the one open "drift check failing" issue of an environment;
//   - reportGate: the required commit status `reconciler/plan` and, when a pull request is not
//     planned with credentials, one comment saying a maintainer must review it;
//   - replanOpenPulls: after the default branch or the state moved, mark every open pull
//     request's plan pending and dispatch plan.yml for it.
// Called from actions/github-script with its `github` (Octokit) and `context`; no other
// dependencies, so it runs under `node --test` with a fake Octokit (github-report.test.js).
"use strict";

// GitHub refuses comment and issue bodies longer than 65,536 characters.
const BODY_LIMIT = 65000;
const PLAN_MARKER = /^<!-- reconciler-plan:[^>]*-->$/;
const FOOTER_START = "\n\n---\n<sub>";

function planMarker(name) {
  return `<!-- reconciler-plan:${name} -->`;
}

function driftMarker(name) {
  return `<!-- reconciler-drift:${name} -->`;
}

function firstLine(text) {
  return (text || "").split("\n", 1)[0].trim();
}

// Cut `text` so that text + note fits the limit, on a line boundary, saying where the rest is.
function truncate(text, limit, note) {
  if (text.length <= limit) return text;
  const room = Math.max(0, limit - note.length - 2);
  const cut = text.lastIndexOf("\n", room);
  return `${text.slice(0, cut > 0 ? cut : room)}\n\n${note}`;
}

// The comment body: the marker line first, then the Markdown plan. The reconciler prints the
// marker as the first line of its Markdown; anything printed before it (e.g. a notice) is
// dropped, and a missing marker is added so the comment can always be found again.
function planBody({ name, markdown, exitcode, runUrl, sha }) {
  const lines = (markdown || "").split("\n");
  const at = lines.findIndex((line) => PLAN_MARKER.test(line.trim()));
  const marker = at >= 0 ? lines[at].trim() : planMarker(name);
  const footer =
    `\n\n---\n<sub>Plan of \`${name}\` for ${sha ? `\`${sha.slice(0, 7)}\`` : "this pull request"}` +
    ` · [workflow run](${runUrl}) · plan file: artifact \`plan-${name}\`</sub>`;
  let text;
  if (exitcode === "0" || exitcode === "2") {
    text = at >= 0 ? lines.slice(at + 1).join("\n").trim() : (markdown || "").trim();
    if (!text) text = exitcode === "0" ? "No changes." : "Changes planned (see the plan file).";
  } else {
    text =
      `### reconciler plan failed for \`${name}\`\n\n` +
      `The plan could not be computed (exit code ${exitcode}); see the [workflow run](${runUrl}) ` +
      "for the error. Do not merge until the plan succeeds: the merge applies whatever the " +
      "plan computes then.";
  }
  const note =
    `*The plan is longer than a comment may be (65,536 characters): the part above is its ` +
    `beginning; the full plan is in the job summary of the [workflow run](${runUrl}) and in the ` +
    `artifact \`plan-${name}\`.*`;
  return `${marker}\n${truncate(text, BODY_LIMIT - marker.length - footer.length - 1, note)}${footer}`;
}

function findByMarker(items, marker) {
  return items.filter(
    (item) => item.user && item.user.type === "Bot" && firstLine(item.body) === marker,
  );
}

// Create or update the one plan comment of `name` on the pull request of `context`.
// With no changes (exit code 0) and no earlier comment, nothing is posted: a pull request that
// touches one app of hundreds gets one comment, not hundreds.
async function postPlan(
  { github, context, core },
  { name, markdown, exitcode, runUrl, sha, issueNumber },
) {
  const { owner, repo } = context.repo;
  const issue_number = issueNumber || context.issue.number;
  const body = planBody({ name, markdown, exitcode, runUrl, sha });
  const marker = firstLine(body);
  const comments = await github.paginate(github.rest.issues.listComments, {
    owner,
    repo,
    issue_number,
    per_page: 100,
  });
  const [keep, ...extra] = findByMarker(comments, marker);
  for (const dup of extra) {
    // Left over from two runs racing before concurrency cancelled one: keep a single comment.
    await github.rest.issues.deleteComment({ owner, repo, comment_id: dup.id });
  }
  if (keep) {
    if (keep.body !== body) {
      await github.rest.issues.updateComment({ owner, repo, comment_id: keep.id, body });
    }
    core.info(`updated plan comment ${keep.id} for ${name}`);
    return { action: "updated", id: keep.id };
  }
  if (exitcode === "0") {
    core.info(`no changes for ${name} and no earlier comment: nothing posted`);
    return { action: "none" };
  }
  const created = await github.rest.issues.createComment({ owner, repo, issue_number, body });
  core.info(`created plan comment ${created.data.id} for ${name}`);
  return { action: "created", id: created.data.id };
}

async function ensureLabel(github, owner, repo, name, color, description) {
  try {
    await github.rest.issues.getLabel({ owner, repo, name });
  } catch (error) {
    if (error.status !== 404) throw error;
    try {
      await github.rest.issues.createLabel({ owner, repo, name, color, description });
    } catch (createError) {
      // 422: another environment's drift job created it a moment ago.
      if (createError.status !== 422) throw createError;
    }
  }
}

// Open, update or close the one drift issue of environment `name`.
// drifted=true: the report becomes the issue body (created with labels `drift` and
// `env:<name>` when none is open). drifted=false: an open issue is closed with a comment.
async function reportDrift({ github, context, core }, { name, drifted, report, runUrl }) {
  const { owner, repo } = context.repo;
  const marker = driftMarker(name);
  const envLabel = `env:${name}`.slice(0, 50);
  const issues = await github.paginate(github.rest.issues.listForRepo, {
    owner,
    repo,
    state: "open",
    labels: "drift",
    per_page: 100,
  });
  const open = findByMarker(issues, marker).filter((issue) => !issue.pull_request);
  const [current] = open;
  if (!drifted) {
    for (const issue of open) {
      await github.rest.issues.createComment({
        owner,
        repo,
        issue_number: issue.number,
        body: `No drift in \`${name}\` any more ([workflow run](${runUrl})). Closing.`,
      });
      await github.rest.issues.update({
        owner,
        repo,
        issue_number: issue.number,
        state: "closed",
        state_reason: "completed",
      });
      core.info(`closed drift issue #${issue.number} for ${name}`);
    }
    return { action: open.length ? "closed" : "none", numbers: open.map((i) => i.number) };
  }
  let text = (report || "").trim();
  if (firstLine(text) === marker) text = text.slice(marker.length).trim();
  const footer =
    `${FOOTER_START}<sub>Reported by [this workflow run](${runUrl}). Drift runs update this ` +
    "issue when the report changes and close it once the live app matches git again.</sub>";
  const note = "*Report cut to fit an issue; the full report is in the workflow run summary.*";
  const content = `${marker}\n${truncate(text || "Drift detected.", BODY_LIMIT - marker.length - footer.length - 1, note)}`;
  const body = `${content}${footer}`;
  const title = `Drift in ${name}: live schedules differ from git`;
  if (current) {
    // An unchanged report is not rewritten every hour (saves API calls with many apps).
    if (current.body.split(FOOTER_START, 1)[0] === content && current.title === title) {
      core.info(`drift issue #${current.number} for ${name} is up to date`);
      return { action: "unchanged", numbers: [current.number] };
    }
    await github.rest.issues.update({ owner, repo, issue_number: current.number, title, body });
    core.info(`updated drift issue #${current.number} for ${name}`);
    return { action: "updated", numbers: [current.number] };
  }
  await ensureLabel(github, owner, repo, "drift", "d93f0b", "Live EngageLab schedules differ from git");
  await ensureLabel(github, owner, repo, envLabel, "0e8a16", "reconciler environment");
  const created = await github.rest.issues.create({
    owner,
    repo,
    title,
    body,
    labels: ["drift", envLabel],
  });
  core.info(`opened drift issue #${created.data.number} for ${name}`);
  return { action: "created", numbers: [created.data.number] };
}

const RUN_FAILING_MARKER = "<!-- reconciler-drift-run-failing -->";

function failingMarker(name) {
  return `<!-- reconciler-drift-failing:${name} -->`;
}

// Open or update the one "drift check failing" issue of `name` (failed=true), or close it.
// `run: true` reports the drift run as a whole (its first job failed, e.g. an invalid
// reconciler.yaml on the default branch, so no environment was checked): one issue of its own,
// closed by the next run whose first job succeeds.
async function reportDriftFailure(
  { github, context, core },
  { name, failed, exitcode, runUrl, run = false },
) {
  const { owner, repo } = context.repo;
  const marker = run ? RUN_FAILING_MARKER : failingMarker(name);
  const issues = await github.paginate(github.rest.issues.listForRepo, {
    owner,
    repo,
    state: "open",
    labels: "drift",
    per_page: 100,
  });
  const open = findByMarker(issues, marker).filter((issue) => !issue.pull_request);
  if (!failed) {
    for (const issue of open) {
      await github.rest.issues.createComment({
        owner,
        repo,
        issue_number: issue.number,
        body: run
          ? `The drift run works again ([workflow run](${runUrl})). Closing.`
          : `The drift check of \`${name}\` works again ([workflow run](${runUrl})). Closing.`,
      });
      await github.rest.issues.update({
        owner,
        repo,
        issue_number: issue.number,
        state: "closed",
        state_reason: "completed",
      });
    }
    return { action: open.length ? "closed" : "none" };
  }
  const title = run ? "Drift run failing" : `Drift check failing in ${name}`;
  const body = run
    ? `${marker}\nThe hourly drift run failed before checking any environment: drift is not ` +
      `being detected at all. See the [workflow run](${runUrl}) for the failed job (an invalid ` +
      "`reconciler.yaml` on the default branch is the usual cause)."
    : `${marker}\nThe hourly drift check of \`${name}\` failed (exit code ${exitcode || "none"}): ` +
      `drift in this app is not being detected. See the [workflow run](${runUrl}) for the error ` +
      "(an expired or rotated secret of the GitHub environment is the usual cause).";
  const [current] = open;
  if (current) {
    await github.rest.issues.update({ owner, repo, issue_number: current.number, title, body });
    core.info(`updated drift-failing issue #${current.number} for ${name}`);
    return { action: "updated", numbers: [current.number] };
  }
  await ensureLabel(github, owner, repo, "drift", "d93f0b", "Live EngageLab schedules differ from git");
  const created = await github.rest.issues.create({ owner, repo, title, body, labels: ["drift"] });
  core.info(`opened drift-failing issue #${created.data.number} for ${name}`);
  return { action: "created", numbers: [created.data.number] };
}

const GATE_MARKER = "<!-- reconciler-gate -->";

// Text from a pull request (file and environment names) shown in a comment as plain text: every
// character Markdown or HTML could read as markup is escaped, line breaks become spaces, so the
// text cannot add links, images, mentions' formatting, headings or hidden HTML to the comment.
function escapeMarkdown(text) {
  return String(text || "")
    .replace(/[\r\n]+/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/[\\`*_{}\[\]()#+\-.!|~@:]/g, (c) => `\\${c}`);
}

// The required status `reconciler/plan` on the pull request's head commit, and one comment
// when the pull request is not planned with credentials.
async function reportGate(
  { github, context, core },
  { state, description, reason, trusted, sha, issueNumber, runUrl },
) {
  const { owner, repo } = context.repo;
  await github.rest.repos.createCommitStatus({
    owner,
    repo,
    sha,
    state,
    context: "reconciler/plan",
    description: description.slice(0, 140),
    target_url: runUrl,
  });
  const comments = await github.paginate(github.rest.issues.listComments, {
    owner,
    repo,
    issue_number: issueNumber,
    per_page: 100,
  });
  const [keep] = findByMarker(comments, GATE_MARKER);
  if (trusted) {
    if (keep) await github.rest.issues.deleteComment({ owner, repo, comment_id: keep.id });
    return;
  }
  const body =
    `${GATE_MARKER}\n### Not planned: a maintainer must review this pull request\n\n` +
    `This pull request was validated only, never planned with credentials, because ${reason ? escapeMarkdown(reason) : "it is not trusted"}. ` +
    "A maintainer must review those changes; once merged, the apply workflow plans them with the " +
    `default branch's settings and the protected environment's reviewers see that plan before anything is applied.\n\n<sub>[workflow run](${runUrl})</sub>`;
  if (keep) {
    if (keep.body !== body) {
      await github.rest.issues.updateComment({ owner, repo, comment_id: keep.id, body });
    }
  } else {
    await github.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body });
  }
  core.info(`pull request #${issueNumber} not planned: ${reason}`);
}

// The repository's artifacts (those named `params.name`, if given), newest first, page by
// page of 100, at most `maxPages` pages (bounded API use).
async function* listedArtifacts({ github, owner, repo }, params, maxPages) {
  for (let page = 1; page <= maxPages; page += 1) {
    const { data } = await github.rest.actions.listArtifactsForRepo({
      owner,
      repo,
      ...params,
      per_page: 100,
      page,
    });
    const artifacts = data.artifacts || [];
    yield* artifacts;
    if (artifacts.length < 100) return;
  }
}

// The apply workflow's own record of each environment, for the markers of the state branch
// (gitops.py matrix --records): per artifact `<prefix><env>` the newest one a trusted run of
// `workflow` uploaded, as { "<env>": { run_id, head_sha, conclusion } }. Artifacts are listed
// newest first, at most `maxPages` pages of 100 (bounded API use); an environment not found
// within them has no record, so its marker is not used and it is planned: never a silent skip.
async function trustedStates(
  { github, context },
  { workflow, defaultBranch, prefix = "state-", maxPages = 10, events = ["push", "workflow_dispatch"] },
) {
  const { owner, repo } = context.repo;
  const records = {};
  const runs = new Map();
  const onBranch = new Map();
  const settled = new Set();
  for await (const artifact of listedArtifacts({ github, owner, repo }, {}, maxPages)) {
    const name = String(artifact.name || "");
    const ref = artifact.workflow_run || {};
    if (!name.startsWith(prefix) || settled.has(name) || artifact.expired || !ref.id) continue;
    if (ref.head_branch && ref.head_branch !== defaultBranch) continue;
    if (!runs.has(ref.id)) {
      let run = null;
      try {
        ({ data: run } = await github.rest.actions.getWorkflowRun({ owner, repo, run_id: ref.id }));
      } catch (error) {
        if (error.status !== 404) throw error;
      }
      runs.set(ref.id, run);
    }
    const run = runs.get(ref.id);
    if (!isTrustedRun(run, { owner, repo, workflow, defaultBranch, events })) continue;
    if (!onBranch.has(ref.id)) {
      onBranch.set(ref.id, await onDefaultBranch({ github, owner, repo }, run.head_sha, defaultBranch));
    }
    if (!onBranch.get(ref.id)) continue;
    settled.add(name);
    records[name.slice(prefix.length)] = {
      run_id: run.id,
      head_sha: run.head_sha,
      conclusion: run.conclusion || null,
    };
  }
  return records;
}

// Whether a workflow run is one of `workflow` (a file name under .github/workflows) of this
// repository, started by one of `events` on the default branch: only such a run executed the
// default branch's reviewed workflow, so only its artifacts can be trusted. Any other run (a
// developer's own workflow on a branch, a fork's `pull_request` run, a dispatch on another
// branch) can upload an artifact of any name.
function isTrustedRun(run, { owner, repo, workflow, defaultBranch, events }) {
  if (!run) return false;
  const full = `${owner}/${repo}`;
  const path = String(run.path || "").split("@", 1)[0];
  return (
    path === `.github/workflows/${workflow}` &&
    run.head_branch === defaultBranch &&
    ((run.head_repository || {}).full_name || "") === full &&
    (!run.repository || run.repository.full_name === full) &&
    events.includes(run.event)
  );
}

// Whether commit `sha` is on the default branch (its tip, or behind it). A run's head_branch
// is only a name: a tag, or a dispatch on a tag, named like the default branch gives a run of
// a workflow file that branch never held the same head_branch. Only a commit the branch holds
// ran its reviewed workflow. The branch is looked up by its own endpoint (a tag of the same
// name would make "main" ambiguous in a comparison), then compared by commit.
async function onDefaultBranch({ github, owner, repo }, sha, defaultBranch) {
  if (!sha) return false;
  try {
    const { data: branch } = await github.rest.repos.getBranch({ owner, repo, branch: defaultBranch });
    const { data } = await github.rest.repos.compareCommitsWithBasehead({
      owner,
      repo,
      basehead: `${sha}...${branch.commit.sha}`,
    });
    return data.status === "identical" || data.status === "ahead";
  } catch (error) {
    if (error.status === 404) return false;
    throw error;
  }
}

// The run of the newest artifact `name` uploaded by a trusted run of `workflow` (see
// isTrustedRun), or null. Artifacts are listed newest first; each candidate's run is checked
// through the API, never taken from the artifact's own fields alone.
async function lastTrustedArtifact(
  { github, context },
  { name, workflow, defaultBranch, events = ["push", "workflow_dispatch"], maxPages = 10 },
) {
  const { owner, repo } = context.repo;
  // Page on: anyone who can push a branch can upload artifacts of this name from it, and a
  // hundred of those must not push the apply run's own record off the first page. Bounded:
  // beyond `maxPages` the record counts as missing (the state is then unverified, never
  // trusted by default).
  for await (const artifact of listedArtifacts({ github, owner, repo }, { name }, maxPages)) {
    const ref = artifact.workflow_run || {};
    if (artifact.expired || !ref.id) continue;
    if (ref.head_branch && ref.head_branch !== defaultBranch) continue;
    let run;
    try {
      ({ data: run } = await github.rest.actions.getWorkflowRun({ owner, repo, run_id: ref.id }));
    } catch (error) {
      if (error.status === 404) continue;
      throw error;
    }
    if (
      isTrustedRun(run, { owner, repo, workflow, defaultBranch, events }) &&
      (await onDefaultBranch({ github, owner, repo }, run.head_sha, defaultBranch))
    ) {
      return run;
    }
  }
  return null;
}

// The plan run of pull request `pull` at its head commit: the newest successful run of the
// plan workflow on the default branch (pull_request_target, or the re-plan's dispatch) whose
// run name says it planned that pull request at that commit, and that uploaded `artifact`.
// The run name is set by the default branch's plan workflow from the event (number and head
// commit), not from anything the pull request's files hold.
async function reviewedPlanRun(
  { github, context },
  { pull, artifact, workflow = "plan.yml", defaultBranch },
) {
  const { owner, repo } = context.repo;
  const title = `plan #${pull.number} @ ${pull.head.sha}`;
  const runs = await github.paginate(github.rest.actions.listWorkflowRuns, {
    owner,
    repo,
    workflow_id: workflow,
    branch: defaultBranch,
    per_page: 100,
  });
  const events = ["pull_request_target", "workflow_dispatch"];
  const run = runs.find(
    (r) =>
      isTrustedRun(r, { owner, repo, workflow, defaultBranch, events }) &&
      r.conclusion === "success" &&
      r.display_title === title,
  );
  if (!run) return null;
  const { data } = await github.rest.actions.listWorkflowRunArtifacts({
    owner,
    repo,
    run_id: run.id,
    name: artifact,
  });
  const found = (data.artifacts || []).some((a) => a.name === artifact && !a.expired);
  return found ? run : null;
}

// Every open pull request's plan is stale: status pending, plan.yml dispatched for it.
async function replanOpenPulls({ github, context, core }, { ref, workflow = "plan.yml" }) {
  const { owner, repo } = context.repo;
  const pulls = await github.paginate(github.rest.pulls.list, {
    owner,
    repo,
    state: "open",
    per_page: 100,
  });
  for (const pull of pulls) {
    await github.rest.repos.createCommitStatus({
      owner,
      repo,
      sha: pull.head.sha,
      state: "pending",
      context: "reconciler/plan",
      description: "the default branch or the state moved: planning again",
    });
    await github.rest.actions.createWorkflowDispatch({
      owner,
      repo,
      workflow_id: workflow,
      ref,
      inputs: { pr: String(pull.number), "head-sha": pull.head.sha },
    });
    core.info(`re-planning pull request #${pull.number}`);
  }
  return pulls.map((pull) => pull.number);
}

module.exports = {
  escapeMarkdown,
  isTrustedRun,
  lastTrustedArtifact,
  onDefaultBranch,
  trustedStates,
  reviewedPlanRun,
  postPlan,
  reportDrift,
  reportDriftFailure,
  reportGate,
  replanOpenPulls,
  planBody,
  truncate,
  planMarker,
  driftMarker,
  failingMarker,
  BODY_LIMIT,
};

// Tests of github-report.js against an in-memory fake of the few Octokit calls it makes.
// Run: node --test .github/scripts/github-report.test.js   (part of .ci/run)
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const {
  postPlan,
  reportDrift,
  reportDriftFailure,
  reportGate,
  replanOpenPulls,
  escapeMarkdown,
  isTrustedRun,
  lastTrustedArtifact,
  trustedStates,
  planBody,
  truncate,
  BODY_LIMIT,
} = require("./github-report.js");

const BOT = { login: "github-actions[bot]", type: "Bot" };
const HUMAN = { login: "alice", type: "User" };

// A fake repository: comments of one pull request, issues and labels, as GitHub would keep them.
function fakeGitHub() {
  const state = { comments: [], issues: [], labels: new Set(), nextId: 1 };
  const notFound = () => Object.assign(new Error("Not Found"), { status: 404 });
  const rest = {
    issues: {
      listComments: async () => ({ data: state.comments }),
      createComment: async ({ issue_number, body }) => {
        const c = { id: state.nextId++, issue_number, body, user: BOT };
        state.comments.push(c);
        return { data: c };
      },
      updateComment: async ({ comment_id, body }) => {
        state.comments.find((c) => c.id === comment_id).body = body;
        return { data: {} };
      },
      deleteComment: async ({ comment_id }) => {
        state.comments = state.comments.filter((c) => c.id !== comment_id);
      },
      listForRepo: async ({ labels, state: which }) => ({
        data: state.issues.filter((i) => i.state === which && i.labels.includes(labels)),
      }),
      create: async ({ title, body, labels }) => {
        const i = { number: state.nextId++, title, body, labels, state: "open", user: BOT };
        state.issues.push(i);
        return { data: i };
      },
      update: async ({ issue_number, ...fields }) => {
        Object.assign(
          state.issues.find((i) => i.number === issue_number),
          fields,
        );
        return { data: {} };
      },
      getLabel: async ({ name }) => {
        if (!state.labels.has(name)) throw notFound();
        return { data: { name } };
      },
      createLabel: async ({ name }) => {
        state.labels.add(name);
        return { data: { name } };
      },
    },
  };
  state.statuses = [];
  state.dispatches = [];
  state.pulls = [];
  rest.repos = {
    createCommitStatus: async (params) => {
      state.statuses.push(params);
      return { data: {} };
    },
  };
  rest.actions = {
    createWorkflowDispatch: async (params) => {
      state.dispatches.push(params);
      return { data: {} };
    },
  };
  rest.pulls = { list: async () => ({ data: state.pulls }) };
  const paginate = async (method, params) => (await method(params)).data;
  return { state, github: { rest, paginate } };
}

const context = { repo: { owner: "o", repo: "r" }, issue: { number: 7 } };
const core = { info() {} };
const PLAN = "<!-- reconciler-plan:staging -->\n## Plan: 1 to create\n\n+ weekly-digest";
const args = (extra) => ({ name: "staging", runUrl: "https://run/1", sha: "abcdef123", ...extra });

test("a second plan run updates the first comment instead of adding one", async () => {
  const { state, github } = fakeGitHub();
  await postPlan({ github, context, core }, args({ markdown: PLAN, exitcode: "2" }));
  const changed = PLAN.replace("1 to create", "2 to create");
  await postPlan({ github, context, core }, args({ markdown: changed, exitcode: "2" }));
  assert.equal(state.comments.length, 1);
  assert.match(state.comments[0].body, /2 to create/);
  assert.equal(state.comments[0].body.split("\n")[0], "<!-- reconciler-plan:staging -->");
});

test("each environment keeps its own comment", async () => {
  const { state, github } = fakeGitHub();
  await postPlan({ github, context, core }, args({ markdown: PLAN, exitcode: "2" }));
  const prod = PLAN.replace("staging", "production");
  await postPlan({ github, context, core }, args({ name: "production", markdown: prod, exitcode: "2" }));
  assert.equal(state.comments.length, 2);
});

test("no changes and no earlier comment posts nothing", async () => {
  const { state, github } = fakeGitHub();
  const r = await postPlan(
    { github, context, core },
    args({ markdown: "<!-- reconciler-plan:staging -->\nNo changes.", exitcode: "0" }),
  );
  assert.equal(r.action, "none");
  assert.equal(state.comments.length, 0);
});

test("no changes after earlier changes updates the comment to say so", async () => {
  const { state, github } = fakeGitHub();
  await postPlan({ github, context, core }, args({ markdown: PLAN, exitcode: "2" }));
  await postPlan(
    { github, context, core },
    args({ markdown: "<!-- reconciler-plan:staging -->\nNo changes.", exitcode: "0" }),
  );
  assert.equal(state.comments.length, 1);
  assert.match(state.comments[0].body, /No changes\./);
});

test("a human comment quoting the marker is neither edited nor counted", async () => {
  const { state, github } = fakeGitHub();
  state.comments.push({ id: 99, body: "<!-- reconciler-plan:staging -->\nhello", user: HUMAN });
  await postPlan({ github, context, core }, args({ markdown: PLAN, exitcode: "2" }));
  assert.equal(state.comments.length, 2);
  assert.equal(state.comments[0].body, "<!-- reconciler-plan:staging -->\nhello");
});

test("duplicate bot comments from a race are reduced to one", async () => {
  const { state, github } = fakeGitHub();
  for (const id of [1, 2]) state.comments.push({ id, body: `${PLAN}\nold ${id}`, user: BOT });
  state.nextId = 3;
  await postPlan({ github, context, core }, args({ markdown: PLAN, exitcode: "2" }));
  assert.deepEqual(
    state.comments.map((c) => c.id),
    [1],
  );
});

test("a failed plan replaces the comment with a failure notice under the same marker", async () => {
  const { state, github } = fakeGitHub();
  await postPlan({ github, context, core }, args({ markdown: PLAN, exitcode: "2" }));
  await postPlan({ github, context, core }, args({ markdown: "", exitcode: "1" }));
  assert.equal(state.comments.length, 1);
  assert.match(state.comments[0].body, /plan failed for `staging`/);
});

test("text printed before the marker is dropped so the marker stays the first line", () => {
  const body = planBody(args({ markdown: `notice: something\n${PLAN}`, exitcode: "2" }));
  assert.equal(body.split("\n")[0], "<!-- reconciler-plan:staging -->");
  assert.doesNotMatch(body, /notice: something/);
});

test("a huge plan is cut below GitHub's body limit and keeps marker and footer", () => {
  const huge = `${PLAN}\n${"+ line of the plan\n".repeat(10000)}`;
  const body = planBody(args({ markdown: huge, exitcode: "2" }));
  assert.ok(body.length <= BODY_LIMIT, `${body.length} > ${BODY_LIMIT}`);
  assert.equal(body.split("\n")[0], "<!-- reconciler-plan:staging -->");
  assert.match(body, /full plan is in the job summary of the \[workflow run\]\(.*\) and in the artifact `plan-staging`/);
  assert.match(body, /workflow run/);
});

test("truncate leaves short texts alone", () => {
  assert.equal(truncate("abc", 10, "cut"), "abc");
});

const DRIFT = "## Drift in staging\n\n~ weekly-digest: push.notification.alert changed";
const driftArgs = (extra) => ({ name: "staging", runUrl: "https://run/2", ...extra });

test("drift opens one labelled issue and later runs update it", async () => {
  const { state, github } = fakeGitHub();
  await reportDrift({ github, context, core }, driftArgs({ drifted: true, report: DRIFT }));
  await reportDrift(
    { github, context, core },
    driftArgs({ drifted: true, report: `${DRIFT}\n~ monthly-reminder` }),
  );
  assert.equal(state.issues.length, 1);
  assert.deepEqual(state.issues[0].labels, ["drift", "env:staging"]);
  assert.match(state.issues[0].body, /monthly-reminder/);
  assert.equal(state.issues[0].body.split("\n")[0], "<!-- reconciler-drift:staging -->");
  assert.ok(state.labels.has("drift") && state.labels.has("env:staging"));
});

test("drift gone closes the open issue", async () => {
  const { state, github } = fakeGitHub();
  await reportDrift({ github, context, core }, driftArgs({ drifted: true, report: DRIFT }));
  const r = await reportDrift({ github, context, core }, driftArgs({ drifted: false }));
  assert.equal(r.action, "closed");
  assert.equal(state.issues[0].state, "closed");
});

test("no drift and no open issue does nothing", async () => {
  const { state, github } = fakeGitHub();
  const r = await reportDrift({ github, context, core }, driftArgs({ drifted: false }));
  assert.equal(r.action, "none");
  assert.equal(state.issues.length, 0);
});

test("drift of one environment leaves another environment's issue alone", async () => {
  const { state, github } = fakeGitHub();
  await reportDrift({ github, context, core }, driftArgs({ drifted: true, report: DRIFT }));
  await reportDrift(
    { github, context, core },
    driftArgs({ name: "production", drifted: false }),
  );
  assert.equal(state.issues.length, 1);
  assert.equal(state.issues[0].state, "open");
});

test("drift after a closed issue opens a new one", async () => {
  const { state, github } = fakeGitHub();
  await reportDrift({ github, context, core }, driftArgs({ drifted: true, report: DRIFT }));
  await reportDrift({ github, context, core }, driftArgs({ drifted: false }));
  await reportDrift({ github, context, core }, driftArgs({ drifted: true, report: DRIFT }));
  assert.deepEqual(
    state.issues.map((i) => i.state),
    ["closed", "open"],
  );
});

test("an unchanged drift report is not rewritten", async () => {
  const { state, github } = fakeGitHub();
  await reportDrift({ github, context, core }, driftArgs({ drifted: true, report: DRIFT }));
  const before = state.issues[0].body;
  const r = await reportDrift(
    { github, context, core },
    driftArgs({ drifted: true, report: DRIFT, runUrl: "https://run/3" }),
  );
  assert.equal(r.action, "unchanged");
  assert.equal(state.issues[0].body, before);
});

test("a label created meanwhile by another job is not an error", async () => {
  const { state, github } = fakeGitHub();
  github.rest.issues.getLabel = async () => {
    throw Object.assign(new Error("Not Found"), { status: 404 });
  };
  github.rest.issues.createLabel = async () => {
    throw Object.assign(new Error("already_exists"), { status: 422 });
  };
  await reportDrift({ github, context, core }, driftArgs({ drifted: true, report: DRIFT }));
  assert.equal(state.issues.length, 1);
});


test("a failing drift check opens one issue, updates it, and closes it once it works", async () => {
  const { state, github } = fakeGitHub();
  const args = { name: "prod", failed: true, exitcode: "1", runUrl: "u" };
  assert.equal((await reportDriftFailure({ github, context, core }, args)).action, "created");
  assert.equal((await reportDriftFailure({ github, context, core }, args)).action, "updated");
  assert.equal(state.issues.length, 1);
  assert.equal(state.issues[0].title, "Drift check failing in prod");
  const done = await reportDriftFailure({ github, context, core }, { ...args, failed: false });
  assert.equal(done.action, "closed");
  assert.equal(state.issues[0].state, "closed");
});

test("a failed drift run has one issue of its own, apart from each environment's", async () => {
  const { state, github } = fakeGitHub();
  const env = { name: "prod", failed: true, exitcode: "1", runUrl: "u" };
  const run = { name: "", run: true, failed: true, runUrl: "u" };
  assert.equal((await reportDriftFailure({ github, context, core }, env)).action, "created");
  assert.equal((await reportDriftFailure({ github, context, core }, run)).action, "created");
  assert.equal((await reportDriftFailure({ github, context, core }, run)).action, "updated");
  assert.deepEqual(state.issues.map((i) => i.title).sort(), [
    "Drift check failing in prod",
    "Drift run failing",
  ]);
  const done = await reportDriftFailure({ github, context, core }, { ...run, failed: false });
  assert.equal(done.action, "closed");
  const open = state.issues.filter((i) => i.state === "open").map((i) => i.title);
  assert.deepEqual(open, ["Drift check failing in prod"], "the environment's issue stays open");
});

test("the gate sets the required status and tells an untrusted pull request why", async () => {
  const { state, github } = fakeGitHub();
  const common = { sha: "abc", issueNumber: 7, runUrl: "u" };
  await reportGate({ github, context, core }, {
    ...common, state: "failure", description: "not planned", trusted: false,
    reason: "it changes endpoint of 'prod' in reconciler.yaml",
  });
  assert.deepEqual(state.statuses.map((s) => [s.context, s.state, s.sha]), [
    ["reconciler/plan", "failure", "abc"],
  ]);
  assert.equal(state.comments.length, 1);
  assert.match(state.comments[0].body, /a maintainer must review/);
  assert.match(state.comments[0].body, /changes endpoint of 'prod'/);
  await reportGate({ github, context, core }, {
    ...common, state: "success", description: "1 planned", trusted: true, reason: "",
  });
  assert.equal(state.comments.length, 0, "the note goes once the pull request is trusted");
});

test("re-planning marks every open pull request pending and dispatches plan.yml", async () => {
  const { state, github } = fakeGitHub();
  state.pulls.push({ number: 3, head: { sha: "s3" } }, { number: 4, head: { sha: "s4" } });
  const numbers = await replanOpenPulls({ github, context, core }, { ref: "main" });
  assert.deepEqual(numbers, [3, 4]);
  assert.deepEqual(state.statuses.map((s) => [s.sha, s.state]), [["s3", "pending"], ["s4", "pending"]]);
  assert.deepEqual(state.dispatches.map((d) => [d.workflow_id, d.ref, d.inputs.pr]), [
    ["plan.yml", "main", "3"],
    ["plan.yml", "main", "4"],
  ]);
});

test("the gate's comment shows a pull request's file names as plain text, not Markdown", async () => {
  const { state, github } = fakeGitHub();
  const reason =
    "it changes the tool or the workflows: .github/x](https://evil.example/phish)[y.yml, " +
    ".github/<img src=x onerror=alert(1)>.yml, .github/\n# Approved by @security-team.yml";
  await reportGate({ github, context, core }, {
    sha: "abc", issueNumber: 7, runUrl: "u", state: "failure", description: "not planned",
    trusted: false, reason,
  });
  const body = state.comments[0].body;
  assert.doesNotMatch(body, /\]\(https/);
  assert.doesNotMatch(body, /<img/);
  assert.doesNotMatch(body, /\n# Approved/);
  assert.match(body, /&lt;img src=x onerror=alert\\\(1\\\)&gt;/);
  assert.equal(escapeMarkdown("a_b*c"), "a\\_b\\*c");
});

test("only runs of the named workflow on the default branch of this repository are trusted", () => {
  const where = { owner: "octo", repo: "schedules", workflow: "apply.yml", defaultBranch: "main",
    events: ["push", "workflow_dispatch"] };
  const good = { path: ".github/workflows/apply.yml", head_branch: "main", event: "push",
    head_repository: { full_name: "octo/schedules" } };
  assert.equal(isTrustedRun(good, where), true);
  assert.equal(isTrustedRun({ ...good, path: ".github/workflows/mine.yml" }, where), false);
  assert.equal(isTrustedRun({ ...good, head_branch: "evil" }, where), false);
  assert.equal(isTrustedRun({ ...good, event: "pull_request" }, where), false);
  assert.equal(
    isTrustedRun({ ...good, head_repository: { full_name: "mallory/schedules" } }, where), false);
  assert.equal(isTrustedRun(null, where), false);
});

// A fake of the two repos endpoints onDefaultBranch calls: `onBranch` are the commits the
// default branch holds (its tip "tip").
function onMain(onBranch) {
  return {
    getBranch: async () => ({ data: { commit: { sha: "tip" } } }),
    compareCommitsWithBasehead: async ({ basehead }) => {
      const [base] = basehead.split("...");
      if (base === "tip") return { data: { status: "identical" } };
      return { data: { status: onBranch.includes(base) ? "ahead" : "diverged" } };
    },
  };
}

test("a run named after the default branch but not on it is not trusted (a tag called main)", async () => {
  const ctx = { repo: { owner: "octo", repo: "schedules" } };
  const good = { id: 7, path: ".github/workflows/apply.yml", head_branch: "main", event: "push",
    head_repository: { full_name: "octo/schedules" }, head_sha: "tagged", conclusion: "success" };
  const github = { rest: {
    actions: {
      listArtifactsForRepo: async () => ({ data: { artifacts: [
        { name: "state-prod", workflow_run: { id: 7, head_branch: "main" } }] } }),
      getWorkflowRun: async () => ({ data: good }),
    },
    repos: onMain(["sha1"]),
  } };
  const where = { workflow: "apply.yml", defaultBranch: "main" };
  assert.equal(await lastTrustedArtifact({ github, context: ctx }, { name: "state-prod", ...where }), null);
  assert.deepEqual(await trustedStates({ github, context: ctx }, where), {});
  good.head_sha = "sha1";
  assert.equal((await lastTrustedArtifact({ github, context: ctx }, { name: "state-prod", ...where })).id, 7);
  assert.deepEqual(Object.keys(await trustedStates({ github, context: ctx }, where)), ["prod"]);
});

test("the last trusted state is found behind a hundred uploads from other branches", async () => {
  const ctx = { repo: { owner: "octo", repo: "schedules" } };
  const trusted = { id: 1, path: ".github/workflows/apply.yml", head_branch: "main", event: "push",
    head_repository: { full_name: "octo/schedules" }, head_sha: "sha1", conclusion: "success" };
  const artifacts = [
    ...Array.from({ length: 150 }, (_, n) =>
      ({ name: "state-prod", workflow_run: { id: 100 + n, head_branch: `spam-${n}` } })),
    { name: "state-prod", workflow_run: { id: 1, head_branch: "main" } },
  ];
  const pages = [];
  const github = { rest: {
    actions: {
      listArtifactsForRepo: async ({ per_page, page }) => {
        pages.push(page);
        return { data: { artifacts: artifacts.slice((page - 1) * per_page, page * per_page) } };
      },
      getWorkflowRun: async ({ run_id }) => ({ data: run_id === 1 ? trusted : null }),
    },
    repos: onMain(["sha1"]),
  } };
  const where = { name: "state-prod", workflow: "apply.yml", defaultBranch: "main" };
  assert.equal((await lastTrustedArtifact({ github, context: ctx }, where)).id, 1);
  assert.deepEqual(pages, [1, 2]);
  assert.equal(await lastTrustedArtifact({ github, context: ctx }, { ...where, maxPages: 1 }), null);
});

test("the apply runs' record of each environment: newest trusted upload, expired ones left out", async () => {
  const run = (id, extra) => ({ id, path: ".github/workflows/apply.yml", head_branch: "main",
    event: "push", head_repository: { full_name: "octo/schedules" }, head_sha: `sha${id}`,
    conclusion: "success", ...extra });
  const runs = [run(1), run(2, { conclusion: "failure" }), run(3, { path: ".github/workflows/x.yml" }),
    run(4, { head_branch: "dev" })];
  const artifact = (name, id, extra) =>
    ({ name, workflow_run: { id, head_branch: runs.find((r) => r.id === id).head_branch }, ...extra });
  // Newest first, over two pages of 100.
  const artifacts = [
    artifact("state-prod", 3), // a developer's own workflow: not trusted
    artifact("state-prod", 4), // another branch
    artifact("state-prod", 2),
    artifact("plan-prod", 2),
    artifact("state-staging", 2, { expired: true }),
    ...Array.from({ length: 100 }, () => artifact("plan-prod", 1)),
    artifact("state-staging", 1),
    artifact("state-prod", 1),
    artifact("state-old", 1, { expired: true }),
  ];
  const github = { rest: { actions: {
    listArtifactsForRepo: async ({ per_page, page }) =>
      ({ data: { artifacts: artifacts.slice((page - 1) * per_page, page * per_page) } }),
    getWorkflowRun: async ({ run_id }) => ({ data: runs.find((r) => r.id === run_id) }),
  }, repos: onMain(["sha1", "sha2", "sha3", "sha4"]) } };
  const ctx = { repo: { owner: "octo", repo: "schedules" } };
  const records = await trustedStates({ github, context: ctx }, { workflow: "apply.yml", defaultBranch: "main" });
  assert.deepEqual(records, {
    prod: { run_id: 2, head_sha: "sha2", conclusion: "failure" },
    staging: { run_id: 1, head_sha: "sha1", conclusion: "success" },
  });
  const capped = await trustedStates({ github, context: ctx },
    { workflow: "apply.yml", defaultBranch: "main", maxPages: 1 });
  assert.deepEqual(Object.keys(capped), ["prod"]);
});

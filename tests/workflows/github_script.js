// Runs the `script:` of an actions/github-script step the way the action does: as the body of
// an async function of (require, github, context, core), with relative require() paths
// resolved from the working directory (the job's checkout). `github` is a fake Octokit backed
// by a JSON file, so consecutive steps and workflow runs see each other's comments and issues.
//
//   GITHUB_SCRIPT=<script> FAKE_GITHUB_DB=<file.json> FAKE_GITHUB_CONTEXT=<json> node github_script.js
//
// Used by tests/workflows/runner.py; only the endpoints .github/scripts/github-report.js calls
// are modelled, and any other call fails the step.
"use strict";

const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");
const { execFileSync } = require("child_process");

const dbPath = process.env.FAKE_GITHUB_DB;
const db = fs.existsSync(dbPath)
  ? JSON.parse(fs.readFileSync(dbPath, "utf8"))
  : { next: 100, comments: [], issues: [], labels: [], calls: [] };
for (const key of ["pulls", "statuses", "dispatches", "artifacts", "runs", "calls"]) db[key] = db[key] || [];
const BOT = { login: "github-actions[bot]", type: "Bot" };

function httpError(status, message) {
  return Object.assign(new Error(message), { status });
}

function byId(list, key, value) {
  const item = list.find((entry) => entry[key] === value);
  if (!item) throw httpError(404, `Not Found: ${key} ${value}`);
  return item;
}

function call(name, fn) {
  return async (params) => {
    db.calls.push({ name, params: { ...params, body: undefined } });
    return fn(params || {});
  };
}

const issues = {
  listComments: call("issues.listComments", async ({ issue_number }) => ({
    data: db.comments.filter((c) => c.issue_number === issue_number),
  })),
  createComment: call("issues.createComment", async ({ issue_number, body }) => {
    const comment = { id: db.next++, issue_number, body, user: BOT };
    db.comments.push(comment);
    return { data: comment };
  }),
  updateComment: call("issues.updateComment", async ({ comment_id, body }) => {
    const comment = byId(db.comments, "id", comment_id);
    comment.body = body;
    return { data: comment };
  }),
  deleteComment: call("issues.deleteComment", async ({ comment_id }) => {
    byId(db.comments, "id", comment_id);
    db.comments = db.comments.filter((c) => c.id !== comment_id);
    return { data: {} };
  }),
  listForRepo: call("issues.listForRepo", async ({ state = "open", labels = "" }) => {
    const wanted = labels.split(",").filter(Boolean);
    const data = db.issues.filter(
      (issue) =>
        (state === "all" || issue.state === state) &&
        wanted.every((label) => issue.labels.some((l) => l.name === label)),
    );
    return { data };
  }),
  create: call("issues.create", async ({ title, body, labels = [] }) => {
    const issue = {
      number: db.next++,
      title,
      body,
      state: "open",
      labels: labels.map((name) => ({ name })),
      user: BOT,
    };
    db.issues.push(issue);
    return { data: issue };
  }),
  update: call("issues.update", async ({ issue_number, title, body, state, state_reason }) => {
    const issue = byId(db.issues, "number", issue_number);
    if (title !== undefined) issue.title = title;
    if (body !== undefined) issue.body = body;
    if (state !== undefined) issue.state = state;
    if (state_reason !== undefined) issue.state_reason = state_reason;
    return { data: issue };
  }),
  getLabel: call("issues.getLabel", async ({ name }) => {
    if (!db.labels.includes(name)) throw httpError(404, `Label ${name} not found`);
    return { data: { name } };
  }),
  createLabel: call("issues.createLabel", async ({ name }) => {
    if (db.labels.includes(name)) throw httpError(422, `Label ${name} already exists`);
    db.labels.push(name);
    return { data: { name } };
  }),
};

const pulls = {
  get: call("pulls.get", async ({ pull_number }) => ({
    data: byId(db.pulls, "number", pull_number),
  })),
  list: call("pulls.list", async ({ state = "open" }) => ({
    data: db.pulls.filter((pull) => state === "all" || pull.state === state),
  })),
};

// The bare remote the rehearsal pushes to: branches and ancestry as git knows them.
function remoteGit(...args) {
  return execFileSync("git", ["-C", process.env.FAKE_GITHUB_REMOTE, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  }).trim();
}

const repos = {
  getBranch: call("repos.getBranch", async ({ branch }) => {
    let sha;
    try {
      sha = remoteGit("rev-parse", "--verify", `refs/heads/${branch}^{commit}`);
    } catch {
      throw httpError(404, `Branch not found: ${branch}`);
    }
    return { data: { name: branch, commit: { sha } } };
  }),
  compareCommitsWithBasehead: call("repos.compareCommitsWithBasehead", async ({ basehead }) => {
    const [base, head] = basehead.split("...");
    for (const sha of [base, head]) {
      try {
        remoteGit("cat-file", "-e", `${sha}^{commit}`);
      } catch {
        throw httpError(404, `No commit found for ${sha}`);
      }
    }
    if (remoteGit("rev-parse", `${base}^{commit}`) === remoteGit("rev-parse", `${head}^{commit}`)) {
      return { data: { status: "identical" } };
    }
    const ancestor = (a, b) => {
      try {
        remoteGit("merge-base", "--is-ancestor", a, b);
        return true;
      } catch {
        return false;
      }
    };
    if (ancestor(base, head)) return { data: { status: "ahead" } };
    if (ancestor(head, base)) return { data: { status: "behind" } };
    return { data: { status: "diverged" } };
  }),
  listPullRequestsAssociatedWithCommit: call(
    "repos.listPullRequestsAssociatedWithCommit",
    async ({ commit_sha }) => ({
      data: db.pulls.filter((p) => p.merge_commit_sha === commit_sha || p.head.sha === commit_sha),
    }),
  ),
  createCommitStatus: call("repos.createCommitStatus", async (params) => {
    db.statuses.push({ ...params });
    return { data: { ...params } };
  }),
};

const actions = {
  createWorkflowDispatch: call("actions.createWorkflowDispatch", async (params) => {
    db.dispatches.push({ ...params });
    return { data: {} };
  }),
  listArtifactsForRepo: call("actions.listArtifactsForRepo", async ({ name, per_page = 30, page = 1 }) => {
    const artifacts = db.artifacts
      .filter((a) => !name || a.name === name)
      .slice((page - 1) * per_page, page * per_page);
    return { data: { total_count: artifacts.length, artifacts } };
  }),
  listWorkflowRunArtifacts: call("actions.listWorkflowRunArtifacts", async ({ run_id, name }) => {
    const artifacts = db.artifacts.filter(
      (a) => a.workflow_run.id === Number(run_id) && (!name || a.name === name),
    );
    return { data: { total_count: artifacts.length, artifacts } };
  }),
  getWorkflowRun: call("actions.getWorkflowRun", async ({ run_id }) => ({
    data: byId(db.runs, "id", Number(run_id)),
  })),
  // Newest first, as GitHub lists them; workflow_id is the workflow's file name.
  listWorkflowRuns: call(
    "actions.listWorkflowRuns",
    async ({ workflow_id, branch, event, status, head_sha, per_page = 30 }) => {
      const workflow_runs = db.runs
        .filter(
          (r) =>
            r.path === `.github/workflows/${workflow_id}` &&
            (!branch || r.head_branch === branch) &&
            (!event || r.event === event) &&
            (!head_sha || r.head_sha === head_sha) &&
            (!status || r.status === status || r.conclusion === status),
        )
        .slice(0, per_page);
      return { data: { total_count: workflow_runs.length, workflow_runs } };
    },
  ),
};

const github = {
  rest: { issues, pulls, repos, actions },
  // Octokit's paginate returns the list of a "list" response ({total_count, <items>}).
  paginate: async (method, params) => {
    const { data } = await method(params);
    if (Array.isArray(data)) return data;
    const key = Object.keys(data).find((k) => Array.isArray(data[k]));
    return key ? data[key] : data;
  },
};

const context = JSON.parse(process.env.FAKE_GITHUB_CONTEXT);
const core = {
  setOutput: (name, value) => fs.appendFileSync(process.env.GITHUB_OUTPUT, `${name}=${value}\n`),
  info: (message) => console.log(message),
  warning: (message) => console.log(`::warning::${message}`),
  error: (message) => console.log(`::error::${message}`),
  setFailed: (message) => {
    console.log(`::error::${message}`);
    process.exitCode = 1;
  },
};

const scriptRequire = createRequire(path.join(process.cwd(), "github-script.js"));
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
const script = new AsyncFunction("require", "github", "context", "core", process.env.GITHUB_SCRIPT);

script(scriptRequire, github, context, core)
  .catch((error) => {
    // github-script fails the step with the error's message.
    console.log(`::error::Unhandled error: ${error && error.stack ? error.stack : error}`);
    process.exitCode = 1;
  })
  .finally(() => {
    fs.writeFileSync(dbPath, JSON.stringify(db, null, 1));
  });

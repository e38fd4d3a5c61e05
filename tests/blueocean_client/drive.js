// Drives every REST operation of the unmodified Blue Ocean client library
// (@jenkins-cd/blueocean-core-js, as blueocean-dashboard uses it) against a running sidecar.
//
// Usage: node drive.js <context.json>. The context names the server, the caller's bearer
// token and the runs the test prepared: {base, token, pipeline,
// runs: {finished, running, paused, pausedToo, queued}}. The operations are every request
// the published package (dist/js of 1.10.4) makes, found by reading it.
// Prints one JSON line per operation, {"op", "ok", "detail"}, and "done N" at the end.
//
// The library is written for a browser page Jenkins serves. The only stand-ins here are
// what that page gives it: a DOM (jsdom) whose <head> carries the root URLs, the global
// $blueocean object (organization "jenkins", no extensions), a fetch that resolves
// root-relative URLs against the server as a browser does and carries the caller's
// credential (in the browser: the session cookie), and XMLHttpRequest. Nothing of the
// library itself is replaced.
'use strict';

const fs = require('fs');
const { JSDOM } = require('jsdom');

const context = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const BASE = context.base;
const ORG = 'jenkins';
const LOG_ACTION = 'org.jenkinsci.plugins.workflow.actions.LogAction';

const dom = new JSDOM(
    '<!doctype html><html><head data-rooturl="" data-appurl="/blue" data-resurl="/static" ' +
        'data-crumbtoken-field="Jenkins-Crumb" data-crumbtoken="unused"></head><body></body></html>',
    { url: `${BASE}/blue/organizations/jenkins/pipelines` }
);
global.window = dom.window;
global.document = dom.window.document;
global.navigator = dom.window.navigator;
global.localStorage = dom.window.localStorage;
global.XMLHttpRequest = dom.window.XMLHttpRequest;
global.$blueocean = window.$blueocean = { organization: { name: ORG }, config: {}, jsExtensions: [] };
const nativeFetch = global.fetch;
global.fetch = (url, options = {}) =>
    nativeFetch(new URL(url, BASE), {
        ...options,
        headers: { ...(options.headers || {}), Authorization: `Bearer ${context.token}` },
    });

const core = require('@jenkins-cd/blueocean-core-js');
const UrlBuilder = require('@jenkins-cd/blueocean-core-js/dist/js/UrlBuilder');
const { ParameterApi } = require('@jenkins-cd/blueocean-core-js/dist/js/parameter/rest/ParameterApi');
const { RestPaths } = require('@jenkins-cd/blueocean-core-js/dist/js/paths/rest');
const bundleStartup = require('@jenkins-cd/blueocean-core-js/dist/js/bundleStartup');
const extensions = require('@jenkins-cd/js-extensions');

const { Fetch, RunApi, DisableJobApi, pipelineService, activityService, capabilityStore, capable } = core;
const pipeline = context.pipeline;
const pipelineHref = RestPaths.pipeline(ORG, pipeline);
const runHref = id => RestPaths.run({ organization: ORG, pipeline, runId: id });
const results = [];

function check(condition, detail) {
    if (!condition) {
        throw new Error(detail);
    }
}

async function settled(pager, what) {
    // A Pager fetches its first page when it is made; wait until it has it (bounded).
    const deadline = Date.now() + 20000;
    while (pager.pending || pager.currentPage === 0) {
        check(Date.now() < deadline, `${what}: no page within 20 s (error ${pager.error})`);
        await new Promise(resolve => setTimeout(resolve, 20));
    }
    return pager;
}

async function text(url) {
    const response = await Fetch.fetch(url);
    check(response.status === 200, `${url}: ${response.status}`);
    return { body: await response.text(), headers: response.headers };
}

async function pausedStep(runId) {
    const nodes = await Fetch.fetchJSON(`${runHref(runId)}nodes/?limit=10000`);
    for (const node of nodes) {
        const steps = await Fetch.fetchJSON(node._links.steps.href);
        const step = steps.find(s => s.state === 'PAUSED' && s.input);
        if (step) {
            return step;
        }
    }
    throw new Error(`run ${runId} has no paused step`);
}

const operations = {
    // Capabilities: the POST every fetchJSON triggers, and the GET of one class.
    'CapabilityStore.resolveCapabilities (POST /blue/rest/classes/)': async () => {
        const run = await Fetch.fetchJSON(runHref(context.runs.finished), { disableCapabilities: true });
        const found = await capabilityStore.resolveCapabilities(run._class, 'com.example.Unknown');
        check(found[run._class].includes('io.jenkins.blueocean.rest.model.BlueRun'), JSON.stringify(found));
        check(Array.isArray(found['com.example.Unknown']), 'an unknown class gets an entry');
    },
    'ClassMetadataStore via bundleStartup (GET /blue/rest/classes/{class}/)': async () => {
        await new Promise(resolve => bundleStartup.execute(resolve, {}));
        const type = 'org.jenkinsci.plugins.workflow.support.actions.LogActionImpl';
        const meta = await new Promise(resolve => extensions.classMetadataStore.getClassMetadata(type, resolve));
        check(meta.classes.includes(LOG_ACTION), JSON.stringify(meta));
    },
    'capable(step action, LogAction): the step log look-up': async () => {
        // As blueocean-dashboard decides whether to draw a step's log: a step action whose
        // class is a LogAction, found through the capability look-up, links the log.
        const step = await pausedStep(context.runs.paused);
        const steps = await Fetch.fetchJSON(`${runHref(context.runs.finished)}steps/`);
        for (const each of steps.concat([step])) {
            const logAction = (each.actions || []).find(action => capable(action, LOG_ACTION));
            check(logAction, `step ${each.id}: no action is a LogAction (${JSON.stringify(each.actions)})`);
            await text(logAction._links.self.href);
        }
    },
    // Pipelines
    'PipelineService.pipelinesPager (GET /blue/rest/search/)': async () => {
        const pager = await settled(pipelineService.pipelinesPager(ORG), 'pipelines');
        check(pager.data.some(p => p.name === pipeline), JSON.stringify(pager.data.map(p => p.name)));
    },
    'PipelineService.pipelinesPager with search text': async () => {
        const hit = await settled(pipelineService.pipelinesPager(ORG, 'SHOP.W'), 'search');
        check(hit.data.length === 1 && hit.data[0].name === pipeline, 'search finds the pipeline');
        const miss = await settled(pipelineService.pipelinesPager(ORG, 'nothing-like-it'), 'search');
        check(miss.data.length === 0 && !miss.hasMore, 'search finds nothing else');
    },
    'PipelineService.fetchPipeline': async () => {
        const found = await pipelineService.fetchPipeline(pipelineHref);
        check(found.name === pipeline && found.latestRun, JSON.stringify(found).slice(0, 300));
        check(capable(found, 'BluePipeline') && !capable(found, 'BlueMultiBranchPipeline'), 'capabilities');
    },
    'DisableJobApi.disable': async () => {
        await DisableJobApi.disable({ _links: { self: { href: pipelineHref } } });
        check((await Fetch.fetchJSON(pipelineHref)).disabled === true, 'pipeline disabled');
    },
    'DisableJobApi.enable': async () => {
        await DisableJobApi.enable({ _links: { self: { href: pipelineHref } } });
        check((await Fetch.fetchJSON(pipelineHref)).disabled === false, 'pipeline enabled');
    },
    // Activity
    'ActivityService.activityPager (runs, first page)': async () => {
        const pager = await settled(activityService.activityPager(ORG, pipeline), 'runs');
        check(pager.data.length === 25 && pager.hasMore, `${pager.data.length} runs, more: ${pager.hasMore}`);
        check(pager.data.every(run => run._links.self.href.startsWith(`${pipelineHref}runs/`)), 'run hrefs');
    },
    'Pager.fetchNextPage (runs, second page)': async () => {
        const pager = activityService.activityPager(ORG, pipeline);
        await pager.fetchNextPage();
        const ids = pager.data.map(run => run.id);
        check(pager.currentPage === 2 && !pager.hasMore && new Set(ids).size === ids.length, `${ids}`);
        check(ids.includes(String(context.runs.finished)), 'the second page reaches the oldest runs');
    },
    'Pager.refresh': async () => {
        const pager = activityService.activityPager(ORG, pipeline);
        await pager.refresh();
        check(pager.data.length === 25, `${pager.data.length}`);
    },
    'ActivityService.fetchActivity': async () => {
        const run = await activityService.fetchActivity(runHref(context.runs.finished));
        check(run && run.state === 'FINISHED' && run.result === 'SUCCESS', JSON.stringify(run).slice(0, 300));
        check(run.changeSet.length === 1 && run.changeSet[0].author.id, 'the change set and its author');
        check(capable(run, 'BlueRun') && capable(run.changeSet[0], 'BlueChangeSetEntry'), 'capabilities');
    },
    'ActivityService.fetchTestSummary': async () => {
        const run = await Fetch.fetchJSON(runHref(context.runs.finished));
        const summary = await activityService.fetchTestSummary(run._links.blueTestSummary.href);
        check(summary && summary.total === 0 && summary.failed === 0, JSON.stringify(summary));
    },
    'ActivityService.fetchArtifacts': async () => {
        const artifacts = activityService.fetchArtifacts(runHref(context.runs.finished));
        const deadline = Date.now() + 20000;
        while (artifacts.state === 'pending' && Date.now() < deadline) {
            await new Promise(resolve => setTimeout(resolve, 20));
        }
        check(artifacts.state === 'fulfilled', `${artifacts.state}: ${artifacts.reason}`);
        check(artifacts.value.length === 0, JSON.stringify(artifacts.value));
    },
    'ActivityService.artifactsPager': async () => {
        const pager = await settled(activityService.artifactsPager(runHref(context.runs.finished)), 'artifacts');
        check(pager.data.length === 0 && !pager.hasMore, 'no artifacts');
    },
    // Run control
    'RunApi.startRun': async () => {
        const queued = await RunApi.startRun({ _links: { self: { href: pipelineHref } } });
        check(queued.state === 'QUEUED' && queued._links.self.href === runHref(queued.id), JSON.stringify(queued));
    },
    'ParameterApi.startRunWithParameters': async () => {
        const queued = await new ParameterApi().startRunWithParameters(`${pipelineHref}runs/`, [
            { name: 'TARGET', value: 'production' },
        ]);
        check(queued.state === 'QUEUED', JSON.stringify(queued));
    },
    'RunApi.stopRun': async () => {
        const response = await RunApi.stopRun({ _links: { self: { href: runHref(context.runs.queued) } } });
        check(response.status === 200, `${response.status}`);
        const run = await Fetch.fetchJSON(runHref(context.runs.queued));
        check(run.state === 'FINISHED' && run.result === 'ABORTED', `${run.state} ${run.result}`);
    },
    'RunApi.replayRun': async () => {
        const item = await RunApi.replayRun({ _links: { self: { href: runHref(context.runs.finished) } } });
        check(item.expectedBuildNumber > context.runs.finished, JSON.stringify(item));
        const replay = await Fetch.fetchJSON(runHref(item.expectedBuildNumber));
        check(replay.changeSet.length === 1, 'a replay shows the change set of the run it replays');
    },
    'ParameterApi.submitInputParameter': async () => {
        const step = await pausedStep(context.runs.paused);
        const answer = await new ParameterApi().submitInputParameter(step._links.self.href, step.input.id, [
            { name: 'NOTE', value: 'ship it' },
        ]);
        check(answer && Object.keys(answer).length === 0, JSON.stringify(answer));
    },
    'ParameterApi.cancelInputParameter': async () => {
        const step = await pausedStep(context.runs.pausedToo);
        const answer = await new ParameterApi().cancelInputParameter(step._links.self.href, step.input.id);
        check(answer && Object.keys(answer).length === 0, JSON.stringify(answer));
    },
    // The REST URLs the library builds.
    'UrlBuilder.buildRestUrl': async () => {
        const run = await Fetch.fetchJSON(UrlBuilder.buildRestUrl(ORG, pipeline, null, context.runs.running));
        check(run.id === String(context.runs.running) && run.state === 'RUNNING', JSON.stringify(run).slice(0, 200));
        const found = await Fetch.fetchJSON(UrlBuilder.buildRestUrl(ORG, pipeline));
        check(found.name === pipeline, 'the pipeline');
    },
    'RestPaths.run': async () => {
        const run = await Fetch.fetchJSON(runHref(context.runs.paused));
        check(run.state === 'PAUSED' && capable(run, 'BlueRun'), `${run.state}`);
    },
    'RestPaths.runs (with start and limit)': async () => {
        const runs = await Fetch.fetchJSON(`${RestPaths.runs(ORG, pipeline)}?start=0&limit=3`);
        check(runs.length === 3, `${runs.length}`);
    },
    // Usage statistics, posted only when Jenkins' usage statistics are on.
    'AnalyticsService.track': async () => {
        core.AppConfig._setJenkinsConfig({ analytics: true });
        const response = await core.analyticsService.track('pipeline_run_details', { runId: 1 });
        check(response.status === 200, `${response.status}`);
    },
};

// Operations the library has that cannot apply here, and why (the test checks the list).
const notApplicable = {
    'PipelineService.branchPager': 'multibranch pipelines only; the UI calls it when a pipeline is a BlueMultiBranchPipeline',
    'PipelineService.prPager': 'multibranch pipelines only, as above',
    'RunApi.restartStage': 'offered only on a node with restartable: true; no sidecar node is restartable',
    'SseBus / DefaultSSEHandler fetches': 'driven by the SSE gateway, which the sidecar does not serve',
    'i18n bundles (/blue/rest/i18n/)': "the Blue Ocean web UI's message bundles; the sidecar serves the API, not the UI",
    'JWT.getToken (/jwt-auth/token)': 'only with JWT authentication enabled in Jenkins; the sidecar takes bearer tokens',
};

(async () => {
    for (const [op, run] of Object.entries(operations)) {
        try {
            await run();
            results.push({ op, ok: true });
        } catch (error) {
            results.push({ op, ok: false, detail: String(error && error.stack ? error.stack : error) });
        }
    }
    for (const result of results) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
    }
    process.stdout.write(`${JSON.stringify({ notApplicable })}\n`);
    process.stdout.write(`done ${results.length}\n`);
    process.exit(0);
})();

// The run page while its run goes on: refreshes the summary and stage graph, and follows
// the chosen step's log by byte offsets, one page (at most 64 KB) per request, so a long
// log is never loaded whole. Without this script the page shows everything as of loading.
(function () {
  "use strict";
  var FETCH = { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" };
  var GRAPH_EVERY = 2000;
  var LOG_IDLE = 1000;

  function wait(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function withParams(url, params) {
    var target = new URL(url, window.location.href);
    Object.keys(params).forEach(function (key) { target.searchParams.set(key, params[key]); });
    return target.toString();
  }

  function readPage(url, params) {
    return fetch(withParams(url, params), FETCH).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    });
  }

  // Summary and graph: swap in the server's fragment; keep the keyboard focus where it was.
  function followRun(live) {
    var ended = function () {
      var head = live.querySelector("[data-ended]");
      return head && head.getAttribute("data-ended") === "true";
    };
    var refresh = function () {
      if (ended()) { return; }
      wait(GRAPH_EVERY).then(function () {
        return fetch(live.getAttribute("data-url"), FETCH);
      }).then(function (response) {
        return response.ok ? response.text() : null;
      }).then(function (html) {
        if (html !== null) { swap(live, html); }
      }).catch(function () { /* the next round tries again */ }).then(refresh);
    };
    refresh();
  }

  function runState(live) {
    var state = live.querySelector(".run-head h1 .state");
    return state ? state.lastChild.textContent.trim() : "";  // the word, not the symbol
  }

  function swap(live, html) {
    var before = runState(live);
    var focused = document.activeElement;
    var key = focused && live.contains(focused) ?
      (focused.getAttribute("href") || focused.textContent) : null;
    live.innerHTML = html;
    var now = runState(live);
    if (now !== before) {  // say so to screen readers, as the colour shows it to the eye
      document.getElementById("run-announce").textContent = "The run is now " + now + ".";
    }
    if (key === null) { return; }
    var again = Array.prototype.find.call(live.querySelectorAll("a, button"), function (el) {
      return (el.getAttribute("href") || el.textContent) === key;
    });
    if (again) { again.focus(); }
  }

  // The log: earlier pages on request, later pages as they come.
  function followLog(pre) {
    var url = pre.getAttribute("data-url");
    var first = Number(pre.getAttribute("data-start"));
    var end = Number(pre.getAttribute("data-end"));
    var complete = pre.getAttribute("data-complete") === "true";
    var status = document.getElementById("log-status");
    var earlier = document.getElementById("log-earlier");
    var size = end;
    // A running step's log is not in the page: its first read is its last page.
    var started = end > 0 || complete;

    var say = function (text) { if (status.textContent !== text) { status.textContent = text; } };
    var atBottom = function () { return pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24; };
    var kb = function (bytes) { return (bytes / 1024).toFixed(bytes < 10240 ? 1 : 0) + " KB"; };

    earlier.addEventListener("click", function () {
      earlier.disabled = true;
      readPage(url, { before: first }).then(function (page) {
        var height = pre.scrollHeight;
        pre.insertBefore(document.createTextNode(page.text), pre.firstChild);
        pre.scrollTop += pre.scrollHeight - height;  // keep what was in view in view
        first = page.start;
        earlier.hidden = first === 0;
      }).catch(function () { say("Could not load earlier output; try again."); })
        .then(function () { earlier.disabled = false; });
    });

    var next = function () {
      if (complete && end >= size) {
        say(size ? "Complete, " + kb(size) + (first ? ", showing the last part." : ".")
          : "No output.");
        return;
      }
      readPage(url, started ? { start: end } : {}).then(function (page) {
        var follow = atBottom();
        if (!started) {
          started = true;
          first = page.start;
          earlier.hidden = first === 0;
        }
        if (page.text) { pre.appendChild(document.createTextNode(page.text)); }
        if (follow) { pre.scrollTop = pre.scrollHeight; }
        end = page.end; size = page.size; complete = page.complete;
        if (!complete) { say("Following the log as the step runs…"); }
        return end < size ? null : wait(LOG_IDLE);  // a full page: ask again at once
      }).catch(function () {
        say("The log is not reachable right now; trying again.");
        return wait(LOG_IDLE * 3);
      }).then(next);
    };
    next();
  }

  var live = document.getElementById("live");
  if (live) { followRun(live); }
  var pre = document.getElementById("log");
  if (pre) { followLog(pre); }
}());

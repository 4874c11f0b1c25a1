/* The backprop explorer's script (written into the page by microgradlike.explorer).
 *
 * It computes nothing: every text and number was computed in Python and sits in the page as
 * JSON. The JSON holds the node names and a list of modes (backward pass, forward pass, ...).
 * A mode has an intro text, a legend, the initial text of each node field ("data", "grad", and
 * "local": the local derivatives on the edges into the node, null for the numbers drawn there), and
 * its steps; a step names its node, its explanation, and the fields it changes as [node, field, text].
 * Showing position p of a mode = its initial texts, then the changes of steps 1..p.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-explorer]");
  var data = JSON.parse(document.getElementById("page-data").textContent);
  var picture = root.querySelector(".picture");
  var explanation = root.querySelector("[data-role=explanation]");
  var counter = root.querySelector("[data-role=step]");
  var playButton = root.querySelector("[data-action=play]");
  var modeButtons = root.querySelectorAll("[data-mode]");

  // Each value node of the picture (by topological index): its group, its text fields by role,
  // and the parts drawn for its computation (the op circle and the edges into it).
  var nodes = data.nodes.map(function (name, k) {
    var el = picture.querySelector('[data-index="' + k + '"]');
    var fields = {};
    if (el) {
      el.querySelectorAll("text[data-role]").forEach(function (t) { fields[t.getAttribute("data-role")] = t; });
    }
    var locals = picture.querySelectorAll('[data-into="' + k + '"] text[data-role=local]');
    locals.forEach(function (t) { t.setAttribute("data-drawn", t.textContent); });
    return { el: el, fields: fields, locals: locals,
             parts: picture.querySelectorAll('[data-op-of="' + k + '"], [data-into="' + k + '"]') };
  });

  var mode = data.modes[0];
  var position = 0; // 0: before the first step; p: after step p
  var timer = null;

  function setField(k, field, text) {
    if (field === "local") { // every edge into node k: its own number as drawn (null), or the text
      nodes[k].locals.forEach(function (t) { t.textContent = text === null ? t.getAttribute("data-drawn") : text; });
      return;
    }
    var t = nodes[k].fields[field];
    if (t) { t.textContent = text; }
  }

  function show() {
    var k, field, i;
    root.querySelectorAll(".current, .active, .changed").forEach(function (el) {
      el.classList.remove("current", "active", "changed");
    });
    for (k = 0; k < nodes.length; k++) { setField(k, "local", null); } // unless the mode says otherwise
    for (field in mode.initial) {
      for (k = 0; k < nodes.length; k++) { setField(k, field, mode.initial[field][k]); }
    }
    for (i = 0; i < position; i++) {
      mode.steps[i].set.forEach(function (change) { setField(change[0], change[1], change[2]); });
    }
    root.querySelector("[data-role=legend-node]").textContent = mode.legend.node;
    root.querySelector("[data-role=legend-edges]").textContent = mode.legend.edges;
    root.querySelector("[data-role=legend-changed]").textContent = mode.legend.changed || "";
    root.querySelector("[data-role=legend-changed-item]").hidden = !mode.legend.changed;
    var total = mode.steps.length;
    counter.textContent = position + " / " + total;
    if (position === 0) {
      explanation.textContent = mode.intro;
    } else {
      var step = mode.steps[position - 1];
      explanation.textContent = step.text;
      var node = nodes[step.node];
      if (node.el) {
        node.el.classList.add("current");
        keepInView(node.el);
      }
      node.parts.forEach(function (el) { el.classList.add("active"); });
      step.changed.forEach(function (k) { // the grads this step added to (red)
        var t = nodes[k].fields.grad;
        if (t && k !== step.node) { t.classList.add("changed"); }
      });
    }
    root.querySelector("[data-action=prev]").disabled = position === 0;
    root.querySelector("[data-action=reset]").disabled = position === 0;
    root.querySelector("[data-action=next]").disabled = position === total;
    playButton.disabled = total === 0;
  }

  // Scroll the picture (not the page) to centre the current node when it is not fully in view,
  // so that its op circle and inputs on one side and its users on the other show too.
  function keepInView(el) {
    var box = el.getBoundingClientRect();
    var frame = picture.getBoundingClientRect();
    if (box.left < frame.left || box.right > frame.right) {
      picture.scrollLeft += (box.left + box.right) / 2 - (frame.left + frame.right) / 2;
    }
    if (box.top < frame.top || box.bottom > frame.bottom) {
      picture.scrollTop += (box.top + box.bottom) / 2 - (frame.top + frame.bottom) / 2;
    }
  }

  function go(p) {
    position = Math.max(0, Math.min(mode.steps.length, p));
    show();
  }

  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    playButton.textContent = "▶ play";
  }

  function play() {
    if (timer !== null) { stop(); return; }
    if (position === mode.steps.length) { go(0); }
    playButton.textContent = "■ pause";
    timer = setInterval(function () {
      if (position >= mode.steps.length) { stop(); return; }
      go(position + 1);
    }, 1400);
  }

  function chooseMode(id) {
    stop();
    mode = data.modes.filter(function (m) { return m.id === id; })[0];
    modeButtons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.getAttribute("data-mode") === id)); });
    go(0);
  }

  var actions = {
    next: function () { stop(); go(position + 1); },
    prev: function () { stop(); go(position - 1); },
    reset: function () { stop(); go(0); },
    play: play,
  };
  root.querySelectorAll("[data-action]").forEach(function (button) {
    button.addEventListener("click", actions[button.getAttribute("data-action")]);
  });
  modeButtons.forEach(function (button) {
    button.addEventListener("click", function () { chooseMode(button.getAttribute("data-mode")); });
  });
  // The picture is scaled to fit the window, but never below 60% of its size (smaller text is
  // hard to read: scroll instead); a click on it switches between that and its actual size.
  var svg = picture.querySelector("svg");
  var actualSize = false;
  function fitPicture() {
    if (!svg || !svg.viewBox.baseVal) { return; }
    var width = svg.viewBox.baseVal.width * 4 / 3; // Graphviz draws in pt; 1pt = 4/3 px
    var scale = actualSize ? 1 : Math.max(0.6, Math.min(1, (picture.clientWidth - 14) / width));
    svg.style.width = Math.round(width * scale) + "px";
  }
  picture.addEventListener("click", function () { actualSize = !actualSize; fitPicture(); });
  window.addEventListener("resize", fitPicture);
  fitPicture();

  var keys = { ArrowRight: actions.next, ArrowLeft: actions.prev, Home: actions.reset, " ": play };
  document.addEventListener("keydown", function (event) {
    var busy = event.target.closest && event.target.closest("button, input, select, textarea");
    var action = keys[event.key];
    if (!action || (busy && event.key === " ") || event.altKey || event.ctrlKey || event.metaKey) { return; }
    event.preventDefault();
    action();
  });

  chooseMode(data.modes[0].id);
})();

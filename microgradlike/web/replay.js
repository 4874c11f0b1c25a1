/* The training replay's script (written into the page by microgradlike.replay).
 *
 * It draws what Python computed: for each kept epoch ("snapshot") the decision regions as one
 * byte per grid point (0 … 255, the boundary at 127.5; or a class id and a confidence for several
 * classes), each first-layer neuron's output the same way, the accuracies, and every parameter's
 * value, gradient and optimiser state as float32. A 1-D model has curves (float32) instead.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-replay]");
  var data = JSON.parse(document.getElementById("page-data").textContent);
  // what the run calls its held-out points ("validation", or "test" from the command line): one name
  var heldOut = data.held_out || "validation";
  var CLASS_RGB = [[37, 99, 235], [220, 38, 38], [22, 163, 74], [147, 51, 234], [234, 88, 12],
    [8, 145, 178], [202, 138, 4], [219, 39, 119]];
  var NEGATIVE = [234, 88, 12]; // a neuron's output below 0: orange; above 0: blue
  var POSITIVE = [37, 99, 235];

  function bytes(b64) {
    var text = atob(b64);
    var out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { out[i] = text.charCodeAt(i); }
    return out;
  }
  function floats(b64) { return new Float32Array(bytes(b64).buffer); } // little-endian, as written

  function rgb(c) { return "rgb(" + c[0] + "," + c[1] + "," + c[2] + ")"; }
  function mix(colour, amount) { // white mixed with `colour`, amount 0 … 1
    return colour.map(function (c) { return Math.round(255 + (c - 255) * amount); });
  }
  // A number as every picture writes it: microgradlike.formatting.format_number, Python's
  // f"{x:.4g}" (4 significant digits; exponent form below 1e-4 or from 1e4 on; no trailing zeros).
  function fmt(x) {
    if (x !== x) { return "nan"; }
    if (!isFinite(x)) { return x > 0 ? "inf" : "-inf"; }
    if (x === 0) { return "0"; } // −0 too, as Python's + 0.0 makes it
    var sign = x < 0 ? "-" : "", parts = fourDigits(Math.abs(x)).split("e");
    var digits = parts[0].replace(".", ""), exponent = Number(parts[1]); // d.ddd × 10^exponent
    if (exponent < -4 || exponent >= 4) {
      var e = Math.abs(exponent);
      return sign + trimZeros(parts[0]) + "e" + (exponent < 0 ? "-" : "+") + (e < 10 ? "0" : "") + e;
    }
    return sign + trimZeros(exponent >= 0 ? digits.slice(0, exponent + 1) + "." + digits.slice(exponent + 1)
                                          : "0." + "0".repeat(-exponent - 1) + digits);
  }
  // a > 0 as "d.ddde±n", rounded to 4 digits; an exact tie goes to the even digit, as in Python
  // (toExponential rounds it up: 12345 would be 1.235e+4 where Python writes 1.234e+04).
  function fourDigits(a) {
    var exact = a.toExponential(100).split("e");
    if (/^\d\.\d\d\d50*$/.test(exact[0]) && Number(exact[0].charAt(4)) % 2 === 0) {
      return exact[0].slice(0, 5) + "e" + exact[1];
    }
    return a.toExponential(3);
  }
  function trimZeros(text) { return text.indexOf(".") < 0 ? text : text.replace(/0+$/, "").replace(/\.$/, ""); }

  // A canvas drawn at the screen's pixel density; returns its 2-D context in CSS pixels.
  function context(canvas) {
    var ratio = window.devicePixelRatio || 1;
    var w = Number(canvas.getAttribute("width")), h = Number(canvas.getAttribute("height"));
    if (!canvas.dataset.size) {
      canvas.dataset.size = w + "x" + h;
      canvas.style.width = w + "px";
      canvas.style.height = h + "px";
      canvas.width = w * ratio;
      canvas.height = h * ratio;
    }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.w = Number(canvas.dataset.size.split("x")[0]);
    ctx.h = Number(canvas.dataset.size.split("x")[1]);
    ctx.clearRect(0, 0, ctx.w, ctx.h);
    return ctx;
  }

  // n × n grid points (row 0 at the top) painted over the whole canvas, smoothly interpolated.
  function paintGrid(ctx, n, colourAt) {
    var image = new ImageData(n, n);
    for (var i = 0; i < n * n; i++) {
      var c = colourAt(i);
      image.data.set([c[0], c[1], c[2], 255], 4 * i);
    }
    var small = document.createElement("canvas");
    small.width = small.height = n;
    small.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    // grid point (0, 0) sits on the corner of the picture and (n-1, n-1) on the opposite one
    ctx.drawImage(small, 0.5, 0.5, n - 1, n - 1, 0, 0, ctx.w, ctx.h);
  }

  // The line where the bytes of an n × n grid cross `level` (marching squares).
  function contour(ctx, grid, offset, n, level) {
    var sx = ctx.w / (n - 1), sy = ctx.h / (n - 1);
    ctx.beginPath();
    for (var i = 0; i < n - 1; i++) {
      for (var j = 0; j < n - 1; j++) {
        var a = grid[offset + i * n + j] - level, b = grid[offset + i * n + j + 1] - level;
        var c = grid[offset + (i + 1) * n + j + 1] - level, d = grid[offset + (i + 1) * n + j] - level;
        var p = [];
        if ((a > 0) !== (b > 0)) { p.push([j + a / (a - b), i]); }
        if ((b > 0) !== (c > 0)) { p.push([j + 1, i + b / (b - c)]); }
        if ((d > 0) !== (c > 0)) { p.push([j + d / (d - c), i + 1]); }
        if ((a > 0) !== (d > 0)) { p.push([j, i + a / (a - d)]); }
        for (var k = 0; k + 1 < p.length; k += 2) {
          ctx.moveTo(p[k][0] * sx, p[k][1] * sy);
          ctx.lineTo(p[k + 1][0] * sx, p[k + 1][1] * sy);
        }
      }
    }
    ctx.strokeStyle = "#111827";
    ctx.lineWidth = 2;
    ctx.stroke();
  }

  // The edges of each class's region (several classes): the contour of "this class or not".
  function classEdges(ctx, grid, offset, n, classes) {
    var inside = new Uint8Array(n * n);
    for (var c = 0; c < classes; c++) {
      for (var i = 0; i < n * n; i++) { inside[i] = grid[offset + i] === c ? 255 : 0; }
      contour(ctx, inside, 0, n, 127.5);
    }
  }

  function dot(ctx, x, y, colour, test) {
    ctx.beginPath();
    ctx.arc(x, y, test ? 4.5 : 3.8, 0, 2 * Math.PI);
    ctx.fillStyle = rgb(colour);
    ctx.fill();
    ctx.lineWidth = test ? 2 : 0.8;
    ctx.strokeStyle = test ? "#111827" : "#ffffff";
    ctx.stroke();
  }

  // Round numbers between lo and hi, about four of them, multiples of 1, 2 or 5 × 10^k (and of
  // `unit`, when given).
  function niceTicks(lo, hi, unit) {
    var raw = (hi - lo) / 4;
    if (!(raw > 0)) { return [lo]; }
    var magnitude = Math.pow(10, Math.floor(Math.log10(raw))), r = raw / magnitude;
    var step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * magnitude;
    if (unit) { step = Math.max(unit, Math.round(step / unit) * unit); }
    var out = [];
    for (var v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) { out.push(Number(v.toPrecision(6))); }
    return out;
  }

  // A line chart: series of [x, y] (y null for a gap), axes, ticks and an optional marker at `at`.
  function lineChart(ctx, series, options) {
    var labelled = series.filter(function (s) { return s.label; });
    var pad = { left: 52, right: 10, top: labelled.length ? 22 : 8, bottom: 24 };
    var xs = [], ys = [];
    series.forEach(function (s) {
      s.points.forEach(function (p) { if (p[1] !== null && isFinite(p[1])) { xs.push(p[0]); ys.push(p[1]); } });
    });
    if (!xs.length) { return; }
    var x0 = options.xmin !== undefined ? options.xmin : Math.min.apply(null, xs);
    var x1 = options.xmax !== undefined ? options.xmax : Math.max.apply(null, xs);
    var y0 = options.ymin !== undefined ? options.ymin : Math.min.apply(null, ys);
    var y1 = options.ymax !== undefined ? options.ymax : Math.max.apply(null, ys);
    var log = options.log && y0 > 0 && y1 / y0 > 30;
    if (options.zero && !log) { y0 = Math.min(0, y0); }
    var f = log ? Math.log10 : function (v) { return v; };
    var fy0 = f(y0), fy1 = f(y1);
    if (fy1 === fy0) { fy0 -= 1; fy1 += 1; }
    if (x1 === x0) { x1 = x0 + 1; }
    var W = ctx.w - pad.left - pad.right, H = ctx.h - pad.top - pad.bottom;
    function px(x) { return pad.left + (x - x0) / (x1 - x0) * W; }
    function py(y) { return pad.top + (1 - (f(y) - fy0) / (fy1 - fy0)) * H; }
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#6b7280";
    ctx.strokeStyle = "#e5e7eb";
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    var yTicks = log ? niceTicks(fy0, fy1, 1).map(function (e) { return Math.pow(10, e); }) : niceTicks(y0, y1);
    if (yTicks.length < 2) { yTicks = [y0, y1]; }
    yTicks.forEach(function (y) {
      ctx.beginPath();
      ctx.moveTo(pad.left, py(y));
      ctx.lineTo(pad.left + W, py(y));
      ctx.stroke();
      ctx.fillText(tick(y), pad.left - 4, py(y));
    });
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    niceTicks(x0, x1, options.integerX ? 1 : 0).forEach(function (x) {
      ctx.fillText(tick(x), px(x), pad.top + H + 5);
    });
    if (options.at !== undefined) {
      ctx.strokeStyle = "#111827";
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(px(options.at), pad.top);
      ctx.lineTo(px(options.at), pad.top + H);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    series.forEach(function (s) {
      if (s.dots) {
        s.points.forEach(function (p) {
          ctx.beginPath();
          ctx.arc(px(p[0]), py(p[1]), s.test ? 3.2 : 2.6, 0, 2 * Math.PI);
          ctx.fillStyle = s.colour;
          ctx.fill();
          if (s.test) { ctx.lineWidth = 1.5; ctx.strokeStyle = "#111827"; ctx.stroke(); }
        });
        return;
      }
      ctx.beginPath();
      var drawing = false;
      s.points.forEach(function (p) {
        if (p[1] === null || !isFinite(p[1])) { drawing = false; return; }
        if (drawing) { ctx.lineTo(px(p[0]), py(p[1])); } else { ctx.moveTo(px(p[0]), py(p[1])); }
        drawing = true;
      });
      ctx.strokeStyle = s.colour;
      ctx.lineWidth = s.width || 2;
      ctx.stroke();
    });
    // the legend, on one line above the chart
    var lx = pad.left;
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.font = "12px system-ui, sans-serif";
    labelled.concat(log ? [{ label: "(log scale)", colour: "#6b7280" }] : []).forEach(function (s) {
      ctx.fillStyle = s.colour;
      var text = (s.points ? "— " : "") + s.label;
      ctx.fillText(text, lx, 2);
      lx += ctx.measureText(text).width + 14;
    });
  }

  // An axis label, where the ticks are round numbers: short ("0.25", "300", "1e+200", "2.5e-7"),
  // and whole counts such as epochs up to 99,999 in full, as matplotlib's axes write them.
  function tick(x) {
    var a = Math.abs(x);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? Number(x.toPrecision(2)).toExponential() : String(Number(x.toPrecision(4)));
  }

  // ---- the data ------------------------------------------------------------------------------
  var epochs = data.epochs;
  var S = epochs.length;
  var slider = root.querySelector("[data-role=epoch]");
  var mainCanvas = root.querySelector("[data-role=boundary], [data-role=curve]");
  var lossCanvas = root.querySelector("[data-role=loss-chart]");
  var params = data.parameters;
  var P = params.names.length;
  var state = {};
  Object.keys(params.values).forEach(function (slot) { state[slot] = floats(params.values[slot]); });
  var pointSets = [["train", false], ["test", true]].filter(function (s) { return data.points[s[0]]; });
  var plane = data.kind === "boundary";
  var regions = plane ? bytes(data.regions) : null;
  var confidence = plane && data.confidence ? bytes(data.confidence) : null;
  var curves = plane ? null : floats(data.curves);
  var neuronData = data.n_neurons ? (plane ? bytes(data.neurons) : floats(data.neurons)) : null;
  // The curves' axes stay put while the epochs change: the range of every epoch and point.
  function range(values) {
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) { if (isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    var margin = 0.05 * (hi - lo || 1);
    return [lo - margin, hi + margin];
  }
  var curveRange = plane ? null : range(Array.from(curves).concat(
    pointSets.reduce(function (all, set) { return all.concat(data.points[set[0] + "_y"]); }, [])));
  var neuronRange = plane || !neuronData ? null : range(Array.from(neuronData));
  var current = S - 1;
  var timer = null;

  // ---- the main picture: decision regions and points, or the fitted curve ---------------------
  function drawPlane(s) {
    var ctx = context(mainCanvas), n = data.resolution, off = s * n * n, box = data.box;
    paintGrid(ctx, n, function (i) {
      if (confidence) { return mix(CLASS_RGB[regions[off + i] % CLASS_RGB.length], 0.12 + 0.4 * confidence[off + i] / 255); }
      var t = (regions[off + i] - 127.5) / 127.5;
      return mix(CLASS_RGB[t > 0 ? 1 : 0], 0.12 + 0.4 * Math.abs(t));
    });
    if (confidence) { classEdges(ctx, regions, off, n, data.classes); } else { contour(ctx, regions, off, n, 127.5); }
    pointSets.forEach(function (set) {
      var rows = data.points[set[0]], labels = data.points[set[0] + "_y"];
      rows.forEach(function (r, k) {
        dot(ctx, (r[0] - box[0]) / (box[1] - box[0]) * ctx.w, (box[3] - r[1]) / (box[3] - box[2]) * ctx.h,
          CLASS_RGB[labels[k] % CLASS_RGB.length], set[1]);
      });
    });
    mainCanvas.setAttribute("data-epoch", String(epochs[s]));
  }

  function drawCurve(s) {
    var ctx = context(mainCanvas), m = curves.length / S, xs = data.xs;
    var line = [];
    for (var k = 0; k < m; k++) { line.push([xs[0] + (xs[1] - xs[0]) * k / (m - 1), curves[s * m + k]]); }
    var series = pointSets.map(function (set) {
      return { dots: true, test: set[1], colour: set[1] ? "#9ca3af" : "#374151",
        points: data.points[set[0]].map(function (r, k) { return [r[0], data.points[set[0] + "_y"][k]]; }) };
    });
    series.push({ points: line, colour: "#dc2626", width: 2.5, label: "model ŷ(x)" });
    lineChart(ctx, series, { xmin: xs[0], xmax: xs[1], ymin: curveRange[0], ymax: curveRange[1] });
    mainCanvas.setAttribute("data-epoch", String(epochs[s]));
  }

  // ---- one small picture per neuron of the first hidden layer ----------------------------------
  var neuronCanvases = [];
  function buildNeurons() {
    var box = root.querySelector("[data-role=neurons]");
    var title = root.querySelector("[data-role=neurons-title]");
    if (!data.n_neurons) {
      title.textContent = "no hidden layer: the model is one linear layer";
      return;
    }
    title.textContent = "the " + data.n_neurons + " neurons of the first hidden layer: each one's output " +
      (plane ? "a = " + data.activation + "(w·x + b) over the plane (blue > 0, orange < 0, white 0)"
        : "a(x) = " + data.activation + "(w·x + b)");
    for (var h = 0; h < data.n_neurons; h++) {
      var figure = document.createElement("figure");
      var canvas = document.createElement("canvas");
      canvas.setAttribute("data-role", "neuron");
      canvas.setAttribute("width", plane ? "84" : "150");
      canvas.setAttribute("height", plane ? "84" : "90");
      var caption = document.createElement("figcaption");
      caption.textContent = "neuron " + (h + 1);
      figure.appendChild(canvas);
      figure.appendChild(caption);
      box.appendChild(figure);
      neuronCanvases.push(canvas);
    }
  }

  function drawNeurons(s) {
    if (!data.n_neurons) { return; }
    var H = data.n_neurons;
    neuronCanvases.forEach(function (canvas, h) {
      var ctx = context(canvas);
      if (plane) {
        var n = data.neuron_resolution, off = (s * H + h) * n * n;
        paintGrid(ctx, n, function (i) {
          var t = (neuronData[off + i] - 127.5) / 127.5;
          return mix(t > 0 ? POSITIVE : NEGATIVE, Math.abs(t));
        });
        return;
      }
      var m = neuronData.length / (S * H), xs = data.xs, pts = [];
      for (var k = 0; k < m; k++) { pts.push([xs[0] + (xs[1] - xs[0]) * k / (m - 1), neuronData[(s * H + h) * m + k]]); }
      lineChart(ctx, [{ points: pts, colour: "#2563eb" }],
        { xmin: xs[0], xmax: xs[1], ymin: neuronRange[0], ymax: neuronRange[1] });
    });
  }

  // ---- loss curves, scores, the chosen parameter ---------------------------------------------
  function drawLoss(s) {
    var ctx = context(lossCanvas);
    var series = [{ points: data.loss.train.map(function (v, k) { return [k + 1, v]; }), colour: "#2563eb", label: "training loss" }];
    if (data.loss.validation.length) {
      series.push({ points: data.loss.validation.map(function (v, k) { return [k + 1, v]; }), colour: "#ea580c", label: heldOut + " loss" });
    }
    lineChart(ctx, series, { at: epochs[s], log: true, zero: true, integerX: true, xmin: 0 });
  }

  function percent(x) { return x.toFixed(1) + "%"; }
  function showScores(s) {
    var p = root.querySelector("[data-role=scores]");
    p.textContent = "";
    function add(label, role, text) {
      if (p.childNodes.length) { p.appendChild(document.createTextNode(" · ")); }
      p.appendChild(document.createTextNode(label + " "));
      var b = document.createElement("b");
      b.setAttribute("data-role", role);
      b.textContent = text;
      p.appendChild(b);
    }
    if (plane) {
      var test = data.accuracy.test.length > 0;
      add(test ? heldOut + " accuracy" : "training accuracy", "accuracy", percent((test ? data.accuracy.test : data.accuracy.train)[s]));
      if (test) { add("training accuracy", "train-accuracy", percent(data.accuracy.train[s])); }
    } else {
      if (data.mse.test.length) { add(heldOut + " MSE", "test-mse", fmt(data.mse.test[s])); }
      add("training MSE", "train-mse", fmt(data.mse.train[s]));
    }
  }

  var select = root.querySelector("[data-role=parameter]");
  params.names.forEach(function (name, k) {
    var option = document.createElement("option");
    option.value = String(k);
    option.textContent = name;
    select.appendChild(option);
  });
  function showParameter(s) {
    var k = Number(select.value), table = root.querySelector("[data-role=state]");
    table.textContent = "";
    Object.keys(params.slots).forEach(function (slot) {
      var row = table.insertRow();
      row.setAttribute("data-slot", slot);
      row.insertCell().textContent = params.slots[slot].split(":")[0];
      row.insertCell().textContent = fmt(state[slot][s * P + k]);
      row.insertCell().textContent = params.slots[slot].split(":").slice(1).join(":").trim();
    });
    var path = epochs.map(function (e, t) { return [e, state.value[t * P + k]]; });
    lineChart(context(root.querySelector("[data-role=parameter-chart]")),
      [{ points: path, colour: "#16a34a", label: "θ over the epochs" }], { at: epochs[s], integerX: true });
  }

  function showSettings() {
    var table = root.querySelector("[data-role=settings]");
    Object.keys(data.settings).forEach(function (key) {
      var row = table.insertRow();
      row.insertCell().textContent = key;
      row.insertCell().textContent = data.settings[key];
    });
  }

  // ---- choosing the epoch --------------------------------------------------------------------
  function show(s) {
    current = s;
    slider.value = String(epochs[s]);
    root.querySelector("[data-role=epoch-label]").textContent = "epoch " + epochs[s] + " of " + epochs[S - 1];
    root.querySelector("[data-role=note]").textContent = data.notes[s] ||
      (epochs[s] === 0 ? "before training: the weights as initialised" : "");
    if (plane) { drawPlane(s); } else { drawCurve(s); }
    drawNeurons(s);
    drawLoss(s);
    showScores(s);
    showParameter(s);
  }

  // The snapshot whose epoch is nearest `epoch` (long runs keep evenly spaced epochs only).
  function nearest(epoch) {
    var best = 0;
    epochs.forEach(function (e, s) { if (Math.abs(e - epoch) < Math.abs(epochs[best] - epoch)) { best = s; } });
    return best;
  }

  var playButton = root.querySelector("[data-action=play]");
  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    playButton.textContent = "▶ play";
  }
  function play() {
    if (timer !== null) { stop(); return; }
    if (current === S - 1) { show(0); }
    playButton.textContent = "■ pause";
    timer = setInterval(function () {
      if (current >= S - 1) { stop(); return; }
      show(current + 1);
    }, Math.max(60, Math.round(8000 / S)));
  }

  root.querySelector("[data-role=main-title]").textContent = plane
    ? "decision boundary: training points filled, " + heldOut + " points ringed"
    : "the model's curve ŷ(x): training points dark, " + heldOut + " points light and ringed";
  root.querySelector("[data-role=main-legend]").textContent = plane
    ? "Colour: the class the model predicts there, deeper the farther from the boundary (the black line)."
    : "";
  slider.max = String(epochs[S - 1]);
  slider.addEventListener("input", function () { stop(); show(nearest(Number(slider.value))); });
  playButton.addEventListener("click", play);
  select.addEventListener("change", function () { showParameter(current); });
  document.addEventListener("keydown", function (event) {
    var busy = event.target.closest && event.target.closest("button, input, select, textarea");
    if (busy || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var moves = { ArrowRight: 1, ArrowLeft: -1 };
    if (event.key === " ") { event.preventDefault(); play(); }
    if (moves[event.key]) { event.preventDefault(); stop(); show(Math.max(0, Math.min(S - 1, current + moves[event.key]))); }
  });
  buildNeurons();
  showSettings();
  show(S - 1);
})();

/* The ipywidgets 8 renderer (@jupyter-widgets/html-manager 1.x) typesets widget labels with the
 * MathJax 2 API, MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]). The book loads MathJax 3,
 * which has no Hub, so every labelled widget would throw. This shim gives MathJax 3 a Hub whose
 * Queue forwards to MathJax.typesetPromise, holding calls made before MathJax 3 has started. */
(function () {
  "use strict";
  var pending = [];

  function typeset(el) {
    var mj = window.MathJax;
    if (mj && typeof mj.typesetPromise === "function") {
      mj.typesetPromise(el ? [el] : undefined).catch(function () {});
      return true;
    }
    return false;
  }

  var Hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var job = arguments[i];
        var el = Array.isArray(job) ? job[2] : undefined;
        if (!typeset(el)) pending.push(el);
      }
    },
  };

  // MathJax 3 replaces window.MathJax (first a configuration object) when it starts, so attach
  // the Hub again until the started MathJax is there, then flush what was queued.
  function attach() {
    var mj = window.MathJax;
    if (mj === undefined) return false;
    if (!mj.Hub) mj.Hub = Hub;
    if (typeof mj.typesetPromise !== "function") return false;
    while (pending.length) typeset(pending.shift());
    return true;
  }

  if (!attach()) {
    var tries = 0;
    var timer = setInterval(function () {
      if (attach() || ++tries > 300) clearInterval(timer);
    }, 50);
  }
})();

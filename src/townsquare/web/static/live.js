/* The live river: new posts appear at the top of the river's first page as
   they arrive, announced politely to screen readers; focus never moves.
   Without this script the page is the same, only not live. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="townsquare-live"]');
  var main = document.getElementById("main");
  if (!meta || !main || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }

  function firstPost() {
    return main.querySelector("article[data-post]") || main.querySelector("p.empty");
  }

  // The live region is in the page before anything is announced in it.
  var status = document.createElement("p");
  status.className = "live-status";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  var anchor = firstPost();
  if (anchor) {
    anchor.parentNode.insertBefore(status, anchor);
  } else {
    main.appendChild(status);
  }

  function title(article) {
    var heading = article.querySelector(".post-title");
    return heading ? heading.textContent.replace(/\s+/g, " ").trim() : "";
  }

  function announce(added) {
    var count = added.length === 1 ? "1 new post" : added.length + " new posts";
    status.textContent = count + " added at the top: " + added.map(title).join("; ") + ".";
  }

  function insert(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    var shown = {};
    main.querySelectorAll("article[data-post]").forEach(function (article) {
      shown[article.getAttribute("data-post")] = true;
    });
    var added = [];
    var articles = page.querySelectorAll("main article[data-post]");
    for (var i = 0; i < articles.length; i++) {
      if (shown[articles[i].getAttribute("data-post")]) {
        break;
      }
      added.push(articles[i]);
    }
    if (!added.length) {
      return;
    }
    var before = firstPost();
    var was = before.getBoundingClientRect().top;
    added.forEach(function (article) {
      main.insertBefore(document.importNode(article, true), before);
    });
    // Keep what the reader sees in place where the browser does not (no scroll anchoring).
    if (was < 0 && !(window.CSS && CSS.supports && CSS.supports("overflow-anchor", "auto"))) {
      window.scrollBy(0, before.getBoundingClientRect().top - was);
    }
    var empty = main.querySelector("p.empty");
    if (empty) {
      empty.parentNode.removeChild(empty);
    }
    announce(added);
  }

  var busy = false;
  var again = false;

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(location.pathname + location.search, { credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.text() : "";
      })
      .then(insert)
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  new EventSource(meta.getAttribute("content")).addEventListener("posts", refresh);
})();

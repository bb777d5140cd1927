// The portal chat's polling (desk/_chat_parts.html, the #chat-poll element): no request
// while the tab is hidden — its "visibilitychange" trigger polls at once when the tab is
// shown again. A script file, not hx-trigger filters: the CSP forbids eval.
document.addEventListener("htmx:beforeRequest", function (event) {
  var elt = event.detail.elt;
  if (elt && elt.id === "chat-poll" && document.hidden) {
    event.preventDefault();
  }
});

// The reply editor's 「挨拶と署名を挿入」 button: the greeting at the top of the text, the
// signature at its end, the cursor in between. Clicking again changes nothing. A file of
// its own because the Content-Security-Policy runs scripts from /static only.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-greeting]");
  if (!button) return;
  var box = document.getElementById(button.getAttribute("aria-controls"));
  if (!box) return;
  var greeting = button.dataset.greeting || "";
  var signature = button.dataset.signature || "";
  var text = box.value.trim();
  if (greeting && text.indexOf(greeting) === 0) text = text.slice(greeting.length).trim();
  if (signature && text.slice(-signature.length) === signature) {
    text = text.slice(0, text.length - signature.length).trim();
  }
  var head = greeting ? greeting + "\n\n" : "";
  box.value = head + text + (signature ? "\n\n" + signature : "");
  var caret = head.length + text.length;
  box.focus();
  box.setSelectionRange(caret, caret);
});

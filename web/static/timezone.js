// Pre-fill the sign-up form's time zone with the browser's own, when the form is fresh (not after an error,
// where it shows what was chosen). The only script of the site; without it the field simply stays at UTC.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var field = document.querySelector("select[data-browser-zone='fill']");
  if (!field || !window.Intl || !Intl.DateTimeFormat) { return; }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (var i = 0; i < field.options.length; i += 1) {
    if (field.options[i].value === zone) { field.value = zone; return; }
  }
});

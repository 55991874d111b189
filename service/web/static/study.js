// The study page: choosing an events filter shows its events at once (the Show button does the same without JavaScript).
'use strict';

for (const form of document.querySelectorAll('form.event-filter')) {
  for (const select of form.querySelectorAll('select')) select.addEventListener('change', () => form.requestSubmit());
}

// The API reference page: Swagger UI (vendored, see vendor/README.md) over /api/openapi.json.
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  root.replaceChildren();
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    showExtensions: true,
    defaultModelsExpandDepth: 0,
    docExpansion: "list",
    tryItOutEnabled: false,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});

// Starts Swagger UI on the gateway's own OpenAPI document (a file, not an inline script: the page's policy runs
// scripts of this origin only).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: root.dataset.openapi, dom_id: "#swagger-ui", deepLinking: true });
});

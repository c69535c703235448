"""The console's pages, one module per area of work; each registers its routes on `console.web.blueprint`."""

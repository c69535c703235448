"""The Open311 door: Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) over HTTP, in
JSON and XML, for partners' IT, citizen apps and city systems that speak the 311 API.

It is its own process, a client of the gateway over gRPC like the console, and for the same
reasons: it faces the internet, so it is scaled, probed and hardened on its own (read-only root,
no capabilities, egress to the gateway only); the gateway stays gRPC-only and only translates and
authorises. The door holds no data and reaches no service or database: each call is made with the
caller's credential (the bearer token its api_key maps to) as `authorization: Bearer <token>`
metadata, so the gateway and the services decide what the caller may read and do."""

"""The web console: server-rendered pages for operators, staff and residents, a client of the
gateway over gRPC that passes each person's own token, like Online Boutique's frontend."""

"""The HTTP API: an app factory over small routers, one per resource; the rules live in
api.services, which the CLI calls too."""

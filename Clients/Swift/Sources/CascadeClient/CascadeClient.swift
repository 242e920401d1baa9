// The client is generated from openapi.yaml (a link to Public/openapi.yaml) when this target builds.

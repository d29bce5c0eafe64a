"""Knowledge entrypoints: the service process, its gRPC API and the `streamwright kb` commands."""

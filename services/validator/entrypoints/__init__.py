"""Entry points of the validator: the service process and its gRPC API."""

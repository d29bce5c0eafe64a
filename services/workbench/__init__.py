"""In-process composition of several services' logic for the command line (generate, ...)."""

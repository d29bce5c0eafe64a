"""Generator adapters: file system output and profile loading."""

"""Knowledge: the versioned ER knowledge base (seed 000's ER知识库) with conflict detection and search."""

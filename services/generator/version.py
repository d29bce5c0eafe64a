"""The generator's version, recorded in every artifact header."""

GENERATOR_VERSION = "0.1.0"

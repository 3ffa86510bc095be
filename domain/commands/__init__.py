"""The use cases of SPEC §2, one module per aggregate family."""

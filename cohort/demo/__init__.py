"""The bundled demo registry (synthetic; see cohort.simulate.make_demo)."""

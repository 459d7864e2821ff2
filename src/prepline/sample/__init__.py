"""Sample data generators: realistic inputs for demos, tests and benchmarks, made on demand.

Generated rather than shipped, so any size can be had from a seed and nothing large
lives in the repository.
"""

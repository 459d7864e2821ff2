"""prepline's CDK app: the AWS resources its processing jobs run with.

Never imported by the ``prepline`` package. Entry points: ``infra/app.py`` (what
``cdk synth`` runs) and ``prepline_infra.app.build_app`` (what the tests use).
This ``__init__`` imports nothing, so the config module can be used without CDK.
"""

"""The camera gateway: frames → detector → tracker → rules → evidence and plate reads → MQTT.

``edge.camera.agent.CameraAgent`` runs one camera from a ``CameraGatewayConfig``
(``edge.camera.config``); ``edge.camera.pipeline.CameraPipeline`` is the part that
turns frames into contract events and is used alone by the evaluation and bench.
"""

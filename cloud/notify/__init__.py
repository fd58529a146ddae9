"""Notifications: alert changes delivered to webhooks, MQTT and SMS/app gateways, once each."""
